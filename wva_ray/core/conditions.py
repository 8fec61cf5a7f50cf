"""The four conditions of a decision (TargetResolved, MetricsAvailable, OptimizationReady, TargetConflict), each
with its status, reason and message, from a draft and what global allocation did to it. Pure.
"""

from __future__ import annotations

from wva_ray.api.plan import PlanCondition
from wva_ray.api.reasons import Reason
from wva_ray.api.va import ConditionStatus, ConditionType
from wva_ray.core.proposals import Draft
from wva_ray.core.variants import Variant
from wva_ray.core.warmup import warming_message


class Conditions:
    """Builds conditions from trusted values, sharing equal ones: 10,000 VAs make 40,000 conditions but only a
    few hundred distinct ones (frozen values, so sharing is safe)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, str], PlanCondition] = {}

    def __call__(self, *, type: str, status: ConditionStatus, reason: str, message: str) -> PlanCondition:
        key = (type, status, reason, message)
        cond = self._seen.get(key)
        if cond is None:
            cond = PlanCondition.model_construct(type=type, status=status, reason=reason, message=message)
            self._seen[key] = cond
        return cond


_Cond = tuple[ConditionStatus, str, str]  # status, reason, message
_T, _F = ConditionStatus.TRUE, ConditionStatus.FALSE


def _target_resolved(v: Variant) -> _Cond:
    ref = v.va.spec.scale_target_ref
    if v.target_found:
        return _T, Reason.TARGET_FOUND, f"scale target {ref.kind}/{ref.name} found"
    missing = next(h.message for h in v.holds if h.reason == Reason.TARGET_NOT_FOUND)
    return _F, Reason.TARGET_NOT_FOUND, missing


def _metrics_available(d: Draft, metrics_error: str | None) -> _Cond:
    v = d.variant
    if d.woke_from_zero:
        return _T, Reason.SCALE_FROM_ZERO, d.reason
    if v.metrics_count > 0 and d.warming_s is not None:  # kept while warming up: the next cycle reads it back
        partial = f"; {_partial_message(v)}" if v.unreported_pods or v.metrics_warnings else ""
        return _T, Reason.METRICS_WARMING_UP, warming_message(d.warming_s) + partial
    if v.metrics_count > 0 and (v.unreported_pods or v.metrics_warnings):
        return _T, Reason.METRICS_PARTIAL, _partial_message(v)
    if v.metrics_count > 0:
        return _T, Reason.METRICS_FOUND, f"{v.metrics_count} of {v.current} pods report saturation metrics"
    error = d.metrics_error or metrics_error  # this VA's own (its shard's source), else the cycle's
    if error:
        return _F, Reason.PROMETHEUS_ERROR, f"metrics source failed: {error}; holding"
    if v.stale_pods:
        return _F, Reason.METRICS_STALE, f"{v.stale_pods} pods have only stale samples; holding"
    return _F, Reason.METRICS_MISSING, "no saturation metrics from live pods; holding"


def _partial_message(v: Variant) -> str:
    """Which pods are missing and what the source warned, bounded (a condition message, not a log)."""
    parts = []
    if v.unreported_pods:
        names = ", ".join(v.unreported_pods[:3]) + (
            f" and {len(v.unreported_pods) - 3} more" if len(v.unreported_pods) > 3 else ""
        )
        parts.append(f"no metrics from Ready pod(s) {names}")
    if v.metrics_warnings:
        first = v.metrics_warnings[0][:160]
        more = f" (+{len(v.metrics_warnings) - 1} more)" if len(v.metrics_warnings) > 1 else ""
        parts.append(f"Prometheus warned: {first}{more}")
    return f"deciding on the {v.metrics_count} pod(s) that report; " + "; ".join(parts)


def _optimization_ready(d: Draft, limited_note: str | None) -> _Cond:
    blocking = [h for h in d.variant.holds if h.condition_type == ConditionType.OPTIMIZATION_READY]
    if blocking:
        return _F, blocking[0].reason, "; ".join(h.message for h in blocking)
    if limited_note is not None:
        return _F, Reason.LIMITED, limited_note
    if d.timed_out:
        return (
            _F,
            Reason.TRANSITION_TIMED_OUT,
            "the previous decision was not realised in time; re-baselined at current",
        )
    return _T, Reason.OPTIMIZATION_SUCCEEDED, d.reason


def _target_conflict(v: Variant) -> _Cond:
    conflict = next((h for h in v.holds if h.reason == Reason.TARGET_CONFLICT), None)
    if conflict is None:
        return _F, Reason.NO_CONFLICT, ""
    return _T, Reason.TARGET_CONFLICT, conflict.message


def conditions_of(
    d: Draft, metrics_error: str | None, limited_note: str | None, make: Conditions
) -> list[PlanCondition]:
    """The four conditions of one decision, in a fixed order."""
    rows = (
        (ConditionType.TARGET_RESOLVED, _target_resolved(d.variant)),
        (ConditionType.METRICS_AVAILABLE, _metrics_available(d, metrics_error)),
        (ConditionType.OPTIMIZATION_READY, _optimization_ready(d, limited_note)),
        (ConditionType.TARGET_CONFLICT, _target_conflict(d.variant)),
    )
    return [make(type=t, status=status, reason=reason, message=msg) for t, (status, reason, msg) in rows]
