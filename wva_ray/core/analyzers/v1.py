"""Analyzer V1 (the default, `analyzerName` empty): spare KV and queue capacity over all pods of all variants of a
model, and the one-step-per-model target rule with the bounded transition lock (wva-behaviour.md 3.2). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wva_ray.api.config import SaturationSettings
from wva_ray.core.analyzers.base import AnalyzerSettings, GroupState, ModelGroup, Sizing
from wva_ray.core.rules import Gate, cheapest, may_grow, may_shrink, most_expensive, transition_gate
from wva_ray.core.variants import Variant


@dataclass(frozen=True, slots=True)
class V1Analysis:
    scale_up: bool
    scale_down_safe: bool
    non_saturated: int
    saturated: int
    avg_spare_kv: float
    avg_spare_queue: float


def analyze_pods(pods: Sequence[tuple[float, float]], s: SaturationSettings) -> V1Analysis:
    """Spare-capacity analysis of (kv_ratio, queue_length) per pod. Lean on purpose: Ray Serve calls it every 0.1 s.

    Upstream's formula leaves saturated pods out of the averages, so one more saturated pod can *raise* the average
    spare and cancel a scale-up (not monotone in load). With `monotone_spare` a saturated pod counts with zero spare
    and blocks scale-down, which makes more load never give fewer replicas.
    """
    t_kv, t_q = s.kv_cache_threshold, s.queue_length_threshold
    n = 0
    spare_kv = 0.0
    spare_q = 0.0
    for kv, queue in pods:
        if kv >= t_kv or queue >= t_q:
            continue
        n += 1
        spare_kv += t_kv - kv
        spare_q += t_q - queue
    saturated = len(pods) - n
    divisor = len(pods) if s.monotone_spare else n
    avg_kv = spare_kv / divisor if divisor else 0.0
    avg_q = spare_q / divisor if divisor else 0.0
    scale_up = avg_kv < s.kv_spare_trigger or avg_q < s.queue_spare_trigger
    safe = False
    if n >= 2 and not (s.monotone_spare and saturated):
        factor = n / (n - 1)
        safe = (t_kv - (t_kv - avg_kv) * factor) >= s.kv_spare_trigger and (
            t_q - (t_q - avg_q) * factor
        ) >= s.queue_spare_trigger
    return V1Analysis(scale_up, safe, n, saturated, avg_kv, avg_q)


def variant_spare_kv(v: Variant, s: SaturationSettings) -> float:
    """Average spare KV of a variant's non-saturated pods (the allocator's 'least spare capacity' order)."""
    return analyze_pods([(p.kv, p.queue) for p in v.signals], s).avg_spare_kv


def _elapsed_s(v: Variant, now: datetime) -> float | None:
    """Seconds since the variant's desired count took its value (`sinceTime`); None when unknown."""
    status = v.va.status
    alloc = status.desired_optimized_alloc if status else None
    since = alloc.since_time if alloc else None
    if since is None:
        return None
    if since.tzinfo is None and now.tzinfo is not None:
        since = since.replace(tzinfo=now.tzinfo)
    return (now - since).total_seconds()


def _in_transition(v: Variant) -> bool:
    return (v.previous_desired != 0 and v.previous_desired != v.current) or v.metrics_count != v.current


def decide_v1(variants: Sequence[Variant], s: SaturationSettings, now: datetime) -> Sizing:
    """Targets for the decidable variants of one model group. `variants` have metrics and no holds."""
    steps: list[str] = []
    gates = {
        v.key: transition_gate(_in_transition(v), _elapsed_s(v, now), s.transition_timeout_seconds) for v in variants
    }
    timed_out = frozenset(k for k, g in gates.items() if g is Gate.EXPIRED)
    locked = [v for v in variants if gates[v.key] is Gate.HOLD]
    if locked:
        targets: dict[str, int] = {}
        reasons: dict[str, str] = {}
        names = ", ".join(
            f"{v.name} (desired {v.previous_desired}, current {v.current}, reporting {v.metrics_count})" for v in locked
        )
        steps.append(f"transition lock: {names}; the model holds this cycle")
        for v in variants:
            moving = v.previous_desired != 0 and v.previous_desired != v.current
            targets[v.key] = v.previous_desired if moving and v.key not in timed_out else v.current
            reasons[v.key] = "transition in progress: holding until the previous decision is realised"
        return _sizing(variants, targets, reasons, steps, timed_out)
    for key in sorted(timed_out):
        steps.append(f"{key}: transition lock expired after {s.transition_timeout_seconds:g}s; re-baselined at current")

    pods = [(p.kv, p.queue) for v in variants for p in v.signals]
    a = analyze_pods(pods, s)
    steps.append(
        f"V1 over {len(pods)} pods: {a.saturated} saturated, {a.non_saturated} not; avg spare KV "
        f"{a.avg_spare_kv:.3f} (trigger {s.kv_spare_trigger:g}), avg spare queue {a.avg_spare_queue:.2f} "
        f"(trigger {s.queue_spare_trigger:g})"
    )
    targets = {v.key: (v.current if v.key in timed_out else v.metrics_count) for v in variants}
    reasons = {v.key: "steady: no scale-up needed and scale-down not safe" for v in variants}
    if a.scale_up:
        pick = cheapest(v for v in variants if v.pending == 0 and may_grow(targets[v.key], v.max_replicas))
        if pick is not None:
            targets[pick.key] += 1
            reasons[pick.key] = f"scale-up: {_why_up(a, s)}; cheapest variant (cost {pick.cost:g})"
            steps.append(f"scale-up +1 on {pick.name} (cheapest without pending replicas, below max)")
        else:
            steps.append("scale-up wanted but every variant has pending replicas or is at maxReplicas")
            for v in variants:
                reasons[v.key] = "scale-up wanted but blocked: pending replicas or at maxReplicas"
    elif a.scale_down_safe:
        pick = most_expensive(v for v in variants if may_shrink(targets[v.key], v.min_replicas))
        if pick is not None:
            targets[pick.key] -= 1
            reasons[pick.key] = "scale-down: load fits on one replica fewer; most expensive variant"
            steps.append(f"scale-down -1 on {pick.name} (most expensive above its floor)")
        else:
            steps.append("scale-down safe but every variant is at its floor")
    return _sizing(variants, targets, reasons, steps, timed_out)


def _why_up(a: V1Analysis, s: SaturationSettings) -> str:
    if a.non_saturated == 0:
        return f"all {a.saturated} pods saturated"
    parts = []
    if a.avg_spare_kv < s.kv_spare_trigger:
        parts.append(f"avg spare KV {a.avg_spare_kv:.3f} < {s.kv_spare_trigger:g}")
    if a.avg_spare_queue < s.queue_spare_trigger:
        parts.append(f"avg spare queue {a.avg_spare_queue:.2f} < {s.queue_spare_trigger:g}")
    return " and ".join(parts)


def _sizing(
    variants: Sequence[Variant],
    targets: dict[str, int],
    reasons: dict[str, str],
    steps: list[str],
    timed_out: frozenset[str],
) -> Sizing:
    """V1 orders allocation by plain cost (it has no notion of capacity per replica)."""
    return Sizing(targets, reasons, tuple(steps), {v.key: v.cost for v in variants}, timed_out)


@dataclass(frozen=True, slots=True)
class V1Analyzer:
    """The registry's entry for `analyzerName: ""`."""

    label: str = "v1"

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        return decide_v1(group.variants, settings.saturation, group.now)
