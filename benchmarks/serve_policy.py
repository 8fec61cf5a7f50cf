"""Cost of one call of the wva-ray Serve policies, as the Serve controller makes it every 0.1 s per deployment.

Builds real Serve `AutoscalingContext` objects (no cluster) and times `policy(ctx)` with `time.perf_counter_ns`,
including the context's lazy `raw_metrics` evaluation, reading and writing the typed policy state and core's V1
analyzer. Modes `prometheus` and `coordinator` are timed with their background value already fetched (their tick
only reads it). Usage:

    .venv/bin/python benchmarks/serve_policy.py [--calls 20000] [--replicas 1 4 16 64] [--samples 10] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from ray.serve._private.common import DeploymentID, ReplicaID, TimeStampedValue
from ray.serve.config import AutoscalingConfig, AutoscalingContext

from wva_ray.serve.app_policy import WvaMultiVariantPolicy
from wva_ray.serve.background import Fetched, Poller
from wva_ray.serve.coordinator_link import CoordinatorTarget
from wva_ray.serve.policy import WvaSaturationPolicy
from wva_ray.serve.prometheus import ReplicaSignalsByName

NOW_S = 1_800_000_000.0


def make_context(replicas: int, samples: int, deployment: str = "llm", reason: str = "steady") -> AutoscalingContext:
    """A steady deployment (KV 0.69, 1 waiting per replica: no scale-up, scale-down unsafe) whose state says the
    previous answer was the same, as on almost every real tick (the policy logs only when its answer changes)."""
    dep = DeploymentID(name=deployment, app_name="bench")
    ids = [ReplicaID(unique_id=f"r{i}", deployment_id=dep) for i in range(replicas)]

    def series(value: float) -> list[TimeStampedValue]:
        return [TimeStampedValue(NOW_S - 0.2 * (samples - k), value) for k in range(samples)]

    raw = {
        "kv_cache_usage_perc": {r: series(0.69) for r in ids},
        "num_requests_waiting": {r: series(1.0) for r in ids},
    }
    return AutoscalingContext(
        deployment_id=dep,
        deployment_name=deployment,
        app_name="bench",
        current_num_replicas=replicas,
        target_num_replicas=replicas,
        running_replicas=ids,
        total_num_requests=lambda: 0.0,
        total_queued_requests=lambda: 0.0,
        aggregated_metrics=lambda: {},
        raw_metrics=lambda: raw,
        capacity_adjusted_min_replicas=1,
        capacity_adjusted_max_replicas=1000,
        policy_state={"wva_last_desired": replicas, "wva_last_reason": reason},
        last_scale_up_time=None,
        last_scale_down_time=None,
        current_time=NOW_S,
        config=AutoscalingConfig(min_replicas=1, max_replicas=1000, look_back_period_s=30.0),
    )


def time_calls(call: Callable[[Any], Any], make_arg: Callable[[], Any], calls: int) -> dict[str, float]:
    """Per-call microseconds over `calls` calls; a fresh context per call (Serve builds a new one per tick)."""
    durations: list[float] = []
    for _ in range(calls):
        arg = make_arg()  # built outside the timed region
        t0 = time.perf_counter_ns()
        call(arg)
        durations.append((time.perf_counter_ns() - t0) / 1000.0)
    durations.sort()
    return {
        "min_us": durations[0],
        "median_us": statistics.median(durations),
        "p90_us": durations[int(0.9 * (len(durations) - 1))],
        "p99_us": durations[int(0.99 * (len(durations) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--samples", type=int, default=10, help="samples per replica per stat in the window")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    Poller.ensure_started = lambda self: None  # type: ignore[method-assign]  # no threads: values injected below
    rows: list[dict[str, Any]] = []
    for n in args.replicas:
        stats = WvaSaturationPolicy(mode="replica_stats")
        rows.append(
            {"policy": "replica_stats", "replicas": n}
            | time_calls(stats, functools.partial(make_context, n, args.samples), args.calls)
        )

        prom = WvaSaturationPolicy(mode="prometheus")
        poller = prom._signals._poller(("bench", "llm"))
        poller._latest = Fetched(ReplicaSignalsByName({f"r{i}": (0.69, 1.0) for i in range(n)}), NOW_S)
        rows.append(
            {"policy": "prometheus", "replicas": n}
            | time_calls(prom, functools.partial(make_context, n, args.samples), args.calls)
        )

        coord = WvaSaturationPolicy(mode="coordinator")
        c_poller = coord._coordinator_poller(("bench", "llm"))
        c_poller._latest = Fetched(CoordinatorTarget(n, NOW_S - 5), NOW_S)
        rows.append(
            {"policy": "coordinator", "replicas": n}
            | time_calls(coord, functools.partial(make_context, n, args.samples, reason="coordinator"), args.calls)
        )

    app = WvaMultiVariantPolicy(variant_costs={"h100": 30.0, "a100": 12.0, "l40s": 8.0})

    def three_variants() -> dict[Any, AutoscalingContext]:
        ctxs = [
            make_context(4, args.samples, "h100"),
            make_context(4, args.samples, "a100"),
            make_context(4, args.samples, "l40s"),
        ]
        return {c.deployment_id: c for c in ctxs}

    rows.append({"policy": "app-level 3 variants", "replicas": 12} | time_calls(app, three_variants, args.calls))

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'policy':<22}{'replicas':>9}{'min µs':>8}{'median µs':>11}{'p90 µs':>9}{'p99 µs':>9}")
    for r in rows:
        print(
            f"{r['policy']:<22}{r['replicas']:>9}{r['min_us']:>8.1f}{r['median_us']:>11.1f}"
            f"{r['p90_us']:>9.1f}{r['p99_us']:>9.1f}"
        )


if __name__ == "__main__":
    main()
