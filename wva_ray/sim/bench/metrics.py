"""Benchmark metrics from one simulation result, and aggregation over seeds. Pure, no I/O.

Cost (GPU-hours, relative $), SLO attainment per class (TTFT and mean ITL both within the class),
p99 TTFT, goodput, scaling actions and flaps, reaction to a step, over-provisioning; mean and 95 %
confidence half-width over seeds (Student t).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wva_ray.sim.model.scenario import SLO_CLASSES, SloClass
from wva_ray.sim.model.traces import FloatArray
from wva_ray.sim.records import SimResult

# Student t 0.975 quantiles for n-1 degrees of freedom.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass(frozen=True)
class MetricContext:
    """What the metrics need beyond the run: SLO class per model, capacity per variant, the step."""

    model_class: Mapping[str, str]
    variant_model: Mapping[str, str]
    variant_capacity_rps: Mapping[str, float]
    variant_startup_s: Mapping[str, float]
    step_model: str | None = None
    step_at_s: float | None = None
    step_to_rps: float | None = None


def _meets(ttft: FloatArray, itl: FloatArray, slo: SloClass) -> FloatArray:
    with np.errstate(invalid="ignore"):
        return np.asarray((ttft <= slo.ttft_s) & (itl <= slo.itl_s), dtype=np.float64)


def _flaps(res: SimResult, ctx: MetricContext) -> int:
    flaps = 0
    last: dict[str, tuple[float, int]] = {}
    for act in res.actions:
        direction = 1 if act.after > act.before else -1
        window = max(300.0, 2.0 * ctx.variant_startup_s.get(act.variant, 0.0))
        prev = last.get(act.variant)
        if prev is not None and prev[1] != direction and act.t_s - prev[0] <= window:
            flaps += 1
        last[act.variant] = (act.t_s, direction)
    return flaps


def _reaction(res: SimResult, ctx: MetricContext, meets: FloatArray, arrival: FloatArray) -> dict[str, float]:
    if ctx.step_model is None or ctx.step_at_s is None or ctx.step_to_rps is None:
        return {}
    at = ctx.step_at_s
    ups = [
        a.t_s
        for a in res.actions
        if a.after > a.before and a.t_s >= at and ctx.variant_model[a.variant] == ctx.step_model
    ]
    first_up = (ups[0] - at) if ups else math.nan
    cap = np.zeros_like(res.timeline_s)
    for var, ready in res.ready.items():
        if ctx.variant_model.get(var) == ctx.step_model:
            cap = cap + ready * ctx.variant_capacity_rps.get(var, 0.0)
    after = (res.timeline_s >= at) & (cap >= ctx.step_to_rps)
    ready_s = float(res.timeline_s[np.argmax(after)] - at) if after.any() else math.nan
    recover = math.nan
    for k in range(200):
        lo, hi = at + 30.0 * k, at + 30.0 * (k + 1)
        if hi > res.duration_s:
            break
        mask = (arrival >= lo) & (arrival < hi)
        if mask.sum() >= 10 and meets[mask].mean() >= 0.99:
            recover = lo - at
            break
    return {"reaction_first_up_s": first_up, "reaction_capacity_ready_s": ready_s, "reaction_slo_recovered_s": recover}


def summarize(res: SimResult, ctx: MetricContext) -> dict[str, float]:
    """Scalar metrics of one run (NaN where undefined)."""
    hours = 0.0
    gpu_hours = 0.0
    cost = 0.0
    per_variant: dict[str, float] = {}
    for pod in res.pods:
        h = max(0.0, pod.stopped_s - pod.created_s) / 3600.0
        per_variant[pod.variant] = per_variant.get(pod.variant, 0.0) + h
        hours += h
        gpu_hours += h * pod.gpus
        cost += h * pod.cost_per_hour
    total = 0
    met_own = 0.0
    met_class = {name: 0.0 for name in SLO_CLASSES}
    ttfts: list[FloatArray] = []
    failed = 0
    out: dict[str, float] = {}
    step_meets: FloatArray = np.zeros(0)
    step_arrival: FloatArray = np.zeros(0)
    for model, log in res.requests.items():
        n = len(log.arrival_s)
        total += n
        own = SLO_CLASSES[ctx.model_class.get(model, "standard")]
        meets = _meets(log.ttft_s, log.itl_s, own)
        met_own += float(meets.sum())
        out[f"slo_attainment_{model}"] = float(meets.mean()) if n else math.nan
        for name, slo in SLO_CLASSES.items():
            met_class[name] += float(_meets(log.ttft_s, log.itl_s, slo).sum())
        done = ~np.isnan(log.ttft_s)
        failed += int(n - done.sum())
        ttfts.append(log.ttft_s[done])
        if model == ctx.step_model:
            step_meets, step_arrival = meets, log.arrival_s
    all_ttft = np.concatenate(ttfts) if ttfts else np.zeros(0)
    out.update(
        {
            "gpu_hours": gpu_hours,
            "cost": cost,
            "replica_hours": hours,
            "requests": float(total),
            "slo_attainment": met_own / total if total else math.nan,
            "attainment_strict": met_class["strict"] / total if total else math.nan,
            "attainment_standard": met_class["standard"] / total if total else math.nan,
            "attainment_relaxed": met_class["relaxed"] / total if total else math.nan,
            "p99_ttft_s": float(np.percentile(all_ttft, 99)) if len(all_ttft) else math.nan,
            "failed_requests": float(failed),
            "goodput_rps": met_own / res.duration_s,
            "scale_actions": float(len(res.actions)),
            "scale_actions_per_hour": len(res.actions) / (res.duration_s / 3600.0),
            "flaps": float(_flaps(res, ctx)),
            "budget_denied": float(res.budget_denied),
            "timeouts": float(res.timeouts),
            "over_provisioning": _over_provisioning(res, ctx),
            "sim_wall_s": res.wall_s,
            "policy_ms_per_call": 1000.0 * res.policy_wall_s / max(res.policy_calls, 1),
        }
    )
    out.update({f"replica_hours_{v}": h for v, h in sorted(per_variant.items())})
    out.update(_reaction(res, ctx, step_meets, step_arrival))
    return out


def _over_provisioning(res: SimResult, ctx: MetricContext) -> float:
    """Time-averaged ready SLO capacity / demand (per recorded interval, demand-weighted over models)."""
    t = res.timeline_s
    if len(t) < 2:
        return math.nan
    step = float(t[1] - t[0])
    num = 0.0
    den = 0.0
    for model, log in res.requests.items():
        bins = np.minimum((log.arrival_s // step).astype(np.int64), len(t) - 1)
        demand = np.bincount(bins, minlength=len(t))[: len(t)] / step
        cap = np.zeros(len(t))
        for var, ready in res.ready.items():
            if ctx.variant_model.get(var) == model:
                cap += ready * ctx.variant_capacity_rps.get(var, 0.0)
        num += float(np.sum(cap))
        den += float(np.sum(demand))
    return num / den if den > 0 else math.nan


def aggregate(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean over seeds plus `<key>_ci95` (half-width) and `seeds`."""
    out: dict[str, float] = {"seeds": float(len(runs))}
    if not runs:
        return out
    for key in runs[0]:
        vals = np.array([r.get(key, math.nan) for r in runs], dtype=np.float64)
        finite = vals[np.isfinite(vals)]
        out[key] = float(finite.mean()) if len(finite) else math.nan
        if len(finite) >= 2:
            t = _T975.get(len(finite) - 1, 1.96)
            out[f"{key}_ci95"] = float(t * finite.std(ddof=1) / math.sqrt(len(finite)))
    return out
