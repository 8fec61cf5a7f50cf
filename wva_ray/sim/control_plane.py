"""S5: control-plane scale - the time of one `wva_ray.core.decide` call for N VariantAutoscalings.

N/2 model groups x 2 variants x 2 pods each, synthetic metrics (1 % of pods without a sample), measured
with `time.perf_counter` over repeated calls. Pure computation apart from the timer.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide

ACC_LABEL = "inference.optimization/acceleratorName"


def synthetic_snapshot(n_vas: int, seed: int = 0) -> Snapshot:
    rng = random.Random(seed)
    vas, targets, pods, metrics = [], [], [], []
    for i in range(max(1, n_vas // 2)):
        model = f"model-{i}"
        for acc, price in (("H100", "1.0"), ("A100", "0.55")):
            name = f"{model}-{acc.lower()}"
            vas.append(
                {
                    "metadata": {
                        "name": name,
                        "namespace": "bench",
                        "labels": {"inference.optimization/acceleratorName": acc},
                    },
                    "spec": {
                        "scaleTargetRef": {"kind": "Deployment", "name": name},
                        "modelID": model,
                        "variantCost": price,
                    },
                    "status": {"desiredOptimizedAlloc": {"numReplicas": 2, "accelerator": acc}},
                }
            )
            targets.append(
                {"namespace": "bench", "name": name, "specReplicas": 2, "statusReplicas": 2, "readyReplicas": 2}
            )
            for k in range(2):
                pod = f"{name}-{k}"
                pods.append({"namespace": "bench", "name": pod, "target": name})
                if rng.random() < 0.01:
                    continue
                metrics.append(
                    {
                        "namespace": "bench",
                        "modelName": model,
                        "pod": pod,
                        "kvCacheUsage": rng.uniform(0.1, 0.9),
                        "queueLength": float(rng.randint(0, 6)),
                        "numGpuBlocks": 25000,
                        "blockSize": 16,
                        "avgInputTokens": 1000.0,
                        "avgOutputTokens": 200.0,
                    }
                )
    return Snapshot.model_validate(
        {
            "now": "2026-01-01T00:00:00Z",
            "variantAutoscalings": vas[:n_vas],
            "scaleTargets": targets,
            "pods": pods,
            "metrics": metrics,
        }
    )


def run_control_plane(sizes: list[int], repeats: int = 20) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": {}}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for n in sizes:
        snap = synthetic_snapshot(n)
        reps = repeats if n <= 1000 else max(3, repeats // 5)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            decide(snap, now)
            times.append(1000.0 * (time.perf_counter() - t0))
        arr = np.array(times)
        out["sizes"][str(n)] = {
            "repeats": reps,
            "p50_ms": float(np.percentile(arr, 50)),
            "p99_ms": float(np.percentile(arr, 99)),
            "max_ms": float(arr.max()),
        }
    return out
