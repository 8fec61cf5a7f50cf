"""Benchmark: the memory a `GaugeExporter` holds after publishing N decisions (tracemalloc, one process).

Each synthetic decision sets the three decision gauges and six v0.9 per-variant gauges (utilization, spare,
required, KV used and capacity, metrics up). Published twice, so caches hold their steady state.

    .venv/bin/python benchmarks/exporter_memory.py --vas 10000
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Action, Decision, VariantTelemetry


def decisions(n: int) -> list[Decision]:
    telemetry = VariantTelemetry(
        unit="kv", required=1.0, spare=2.0, kv_tokens_used=3.0, kv_tokens_capacity=4.0, utilization=0.5, pods_fresh=1
    )
    return [
        Decision.model_construct(
            namespace=f"ns{i % 100}",
            name=f"v{i}",
            model_id=f"m{i // 3}",
            accelerator="H100",
            current_replicas=1,
            desired_replicas=2,
            action=Action.SCALE_UP,
            reason="r",
            steps=[],
            conditions=[],
            analyzer="",
            priority=100,
            gpus_per_replica=1,
            limited=False,
            held=False,
            publish=True,
            source=None,
            telemetry=telemetry,
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vas", type=int, default=10000)
    args = parser.parse_args()
    plan = decisions(args.vas)
    gc.collect()
    tracemalloc.start()
    exporter = GaugeExporter("bench", interval_s=30.0)
    exporter.apply(plan)
    exporter.apply(plan)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    print(json.dumps({"vas": args.vas, "exporter_mib": round(held / 2**20, 1)}))


if __name__ == "__main__":
    main()
