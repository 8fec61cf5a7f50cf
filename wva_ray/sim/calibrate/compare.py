"""Side-by-side comparison of a real engine's replay and the replica model's: per-window series (running,
waiting, KV use, completions), TTFT/ITL percentiles and the calibration errors. Pure.

Errors: relative error of the model's TTFT and ITL p50/p95 against the engine's, and the waiting-count series'
normalised RMS error, RMS(model - engine) / max(mean(engine), 1) over the windows (targets of issue 13:
15 % for the percentiles, 20 % for the waiting series).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wva_ray.sim.calibrate.replay import Latency, ReplayResult

PERCENTILES = (50, 95, 99)
TARGET_LATENCY_REL = 0.15
TARGET_WAITING_NRMSE = 0.20


@dataclass(frozen=True, slots=True)
class WindowRow:
    t0_s: float
    running: float
    waiting: float
    kv_ratio: float
    completions: float


def per_window(result: ReplayResult, window_s: float, duration_s: float) -> list[WindowRow]:
    """Mean gauges and completions per window [k*w, (k+1)*w) over [0, duration_s)."""
    rows: list[WindowRow] = []
    n = max(1, math.ceil(duration_s / window_s))
    samples = result.samples
    for k in range(n):
        lo, hi = k * window_s, (k + 1) * window_s
        inside = [s for s in samples if lo <= s.t_s < hi]
        before = [s.completed for s in samples if s.t_s < lo]
        upto = [s.completed for s in samples if s.t_s < hi]
        done = (upto[-1] if upto else 0.0) - (before[-1] if before else 0.0)
        if inside:
            rows.append(
                WindowRow(
                    lo,
                    float(np.mean([s.running for s in inside])),
                    float(np.mean([s.waiting for s in inside])),
                    float(np.mean([s.kv_ratio for s in inside])),
                    float(done),
                )
            )
        else:
            rows.append(WindowRow(lo, 0.0, 0.0, 0.0, float(done)))
    return rows


def percentiles(latencies: Sequence[Latency]) -> dict[str, dict[str, float]]:
    ok = [x for x in latencies if x.ok]
    out: dict[str, dict[str, float]] = {}
    for name, values in (("ttft_s", [x.ttft_s for x in ok]), ("itl_s", [x.itl_s for x in ok if x.itl_s > 0])):
        out[name] = {f"p{p}": float(np.percentile(values, p)) if values else math.nan for p in PERCENTILES}
    return out


def rel_error(model: float, real: float) -> float:
    return (model - real) / real if real else math.nan


def nrmse(model: Sequence[float], real: Sequence[float]) -> float:
    m, r = np.asarray(model, dtype=float), np.asarray(real, dtype=float)
    return float(np.sqrt(np.mean((m - r) ** 2)) / max(float(np.mean(r)), 1.0))


@dataclass(frozen=True)
class Comparison:
    real_windows: list[WindowRow]
    model_windows: list[WindowRow]
    real_pct: dict[str, dict[str, float]]
    model_pct: dict[str, dict[str, float]]
    errors: dict[str, float]

    def within_targets(self) -> dict[str, bool]:
        out = {}
        for key, value in self.errors.items():
            limit = TARGET_WAITING_NRMSE if key.startswith("waiting") else TARGET_LATENCY_REL
            if key.endswith("p99") or key.startswith(("running", "kv", "completions")):
                continue  # reported, no target
            out[key] = abs(value) <= limit
        return out


def compare(
    real: ReplayResult, model: ReplayResult, window_s: float, duration_s: float, from_s: float = 0.0
) -> Comparison:
    """Both sides over [from_s, duration_s): windows starting at or after `from_s`, requests arriving then."""
    rw = [w for w in per_window(real, window_s, duration_s) if w.t0_s >= from_s]
    mw = [w for w in per_window(model, window_s, duration_s) if w.t0_s >= from_s]
    rp = percentiles([x for x in real.latencies if x.start_s >= from_s])
    mp = percentiles([x for x in model.latencies if x.start_s >= from_s])
    errors: dict[str, float] = {}
    for metric in ("ttft_s", "itl_s"):
        for p in PERCENTILES:
            errors[f"{metric.removesuffix('_s')}_p{p}"] = rel_error(mp[metric][f"p{p}"], rp[metric][f"p{p}"])
    errors["waiting_nrmse"] = nrmse([w.waiting for w in mw], [w.waiting for w in rw])
    errors["running_nrmse"] = nrmse([w.running for w in mw], [w.running for w in rw])
    errors["kv_nrmse"] = nrmse([w.kv_ratio for w in mw], [w.kv_ratio for w in rw])
    errors["completions_nrmse"] = nrmse([w.completions for w in mw], [w.completions for w in rw])
    return Comparison(rw, mw, rp, mp, errors)
