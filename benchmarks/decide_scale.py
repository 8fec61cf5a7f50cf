"""Times the pure pipeline `decide()` on generated snapshots (issue 2's speed target: 10,000 VAs < 1 s, one core).

Usage: .venv/bin/python benchmarks/decide_scale.py [--sizes 100,1000,10000] [--repeat 5] [--analyzer v1|saturation]
       [--gc on|freeze|paused]

Each model has 2-3 variants (H100 / A100 / L40S) with 3 pods each; loads vary by model so that some groups scale
up, some down and some hold. Prints one line per size: snapshot validation time and decide() time (median and
min over --repeat runs), in milliseconds, plus the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import time
from typing import Any

from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide

ACCS = [("H100", "20"), ("A100", "12"), ("L40S", "6")]


def build(n_vas: int, analyzer: str, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    vas, targets, pods, metrics = [], [], [], []
    i = 0
    model = 0
    while i < n_vas:
        k = min(rng.choice((2, 3)), n_vas - i)
        ns = f"ns{model % 50}"
        load = rng.random()
        for acc, cost in ACCS[:k]:
            name = f"m{model}-{acc.lower()}"
            vas.append(
                {
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": {"inference.optimization/acceleratorName": acc},
                    },
                    "spec": {
                        "scaleTargetRef": {"kind": "Deployment", "name": name},
                        "modelID": f"model-{model}",
                        "variantCost": cost,
                    },
                }
            )
            targets.append(
                {
                    "namespace": ns,
                    "name": name,
                    "specReplicas": 3,
                    "statusReplicas": 3,
                    "readyReplicas": 3,
                    "gpusPerReplica": 1,
                }
            )
            for p in range(3):
                pod = f"{name}-{p}"
                pods.append({"namespace": ns, "name": pod, "target": name})
                metrics.append(
                    {
                        "namespace": ns,
                        "modelName": f"model-{model}",
                        "pod": pod,
                        "kvCacheUsage": round(min(1.0, load * rng.uniform(0.6, 1.1)), 3),
                        "queueLength": rng.randint(0, 6) if load > 0.7 else 0,
                        "numGpuBlocks": 25000,
                        "blockSize": 16,
                        "avgInputTokens": 1000,
                        "avgOutputTokens": 200,
                    }
                )
            i += 1
        model += 1
    return {
        "now": "2026-11-27T12:00:00Z",
        "config": {"saturation": {"default": {"analyzerName": "" if analyzer == "v1" else analyzer}}},
        "variantAutoscalings": vas,
        "scaleTargets": targets,
        "pods": pods,
        "metrics": metrics,
        "gpuAvailable": {"H100": 1000, "A100": 1000, "L40S": 1000},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--analyzer", default="v1", choices=["v1", "saturation"])
    ap.add_argument(
        "--gc",
        default="on",
        choices=["on", "freeze", "paused"],
        help="on: default collector; freeze: gc.freeze() after parsing; paused: collector off during decide() "
        "(what the runtime does, wva_ray/runtime/gc_pause.py)",
    )
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()} {_cpu_model()}; python {platform.python_version()}")
    for size in (int(s) for s in args.sizes.split(",")):
        raw = build(size, args.analyzer)
        text = json.dumps(raw)
        t0 = time.perf_counter()
        snap = Snapshot.model_validate_json(text)
        parse_ms = (time.perf_counter() - t0) * 1e3
        if args.gc == "freeze":
            gc.collect()
            gc.freeze()
        runs = []
        for _ in range(args.repeat):
            if args.gc == "paused":
                gc.disable()
            t0 = time.perf_counter()
            plan = decide(snap)
            runs.append((time.perf_counter() - t0) * 1e3)
            gc.enable()
        changed = sum(d.action != "no-change" for d in plan.decisions)
        if args.gc == "freeze":
            gc.unfreeze()
        mode = f"{args.analyzer}, gc {args.gc}"
        print(
            f"{size:>6} VAs ({mode}): parse {parse_ms:8.1f} ms | decide median {statistics.median(runs):8.1f}"
            f" ms, min {min(runs):8.1f} ms | {changed} scaling decisions"
        )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    main()
