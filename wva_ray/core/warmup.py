"""No scale-down while a VA's metrics are warming up after they were unavailable. Pure: `now` is an input.

Found by the 5-minute Prometheus outage in the closed loop (tests/loop/test_faults.py): on the first cycle after
Prometheus came back, two of five pods had not been scraped yet and every 1 m window (`rate`, `increase`, the
arrival and token signals) was empty after the gap, so the model looked idle: 5 replicas -> 1 in one cycle under
an unchanged load of about 3 replicas' worth, then back up to 3 over the next cycles, with failed requests.

The VA's own status says when its metrics came back: the MetricsAvailable condition as last written (False: this
cycle is the first with metrics; True: since its `lastTransitionTime`). Until they have been back for
`METRICS_WARMUP_S`, the saturation queries' window, a decision below what the VA holds is deferred (scale-ups
go ahead: they are safe on partial data). A VA that never had the condition (new) is not held.
"""

from __future__ import annotations

from datetime import datetime

from wva_ray.api.va import ConditionStatus, ConditionType, VariantAutoscaling

# the saturation queries' windows (adapters.prometheus.queries.WINDOW_S: `[1m]`): after a gap they fill in that long
METRICS_WARMUP_S = 60.0


def metrics_back_for_s(va: VariantAutoscaling, now: datetime, warmup_s: float = METRICS_WARMUP_S) -> float | None:
    """Seconds the VA's metrics have been available again, while that is less than `warmup_s` (0 when its status
    still says they are unavailable); None when they have been available for longer, or it never said."""
    conditions = va.status.conditions if va.status is not None else []
    cond = next((c for c in conditions if c.type == ConditionType.METRICS_AVAILABLE), None)
    if cond is None:
        return None
    if cond.status != ConditionStatus.TRUE:
        return 0.0
    since = cond.last_transition_time
    if since is None:
        return None
    if since.tzinfo is None and now.tzinfo is not None:
        since = since.replace(tzinfo=now.tzinfo)
    elapsed = (now - since).total_seconds()
    return max(0.0, elapsed) if elapsed < warmup_s else None


def deferred_scale_down(target: int, held: int, back_for_s: float | None) -> tuple[int, str | None]:
    """(the target to decide, why it was raised): `target` below `held` while the metrics warm up stays at `held`."""
    if back_for_s is None or target >= held:
        return target, None
    why = (
        f"scale-down to {target} deferred: metrics back for {back_for_s:.0f} s of the {METRICS_WARMUP_S:.0f} s "
        f"warm-up after they were unavailable; holding {held}"
    )
    return held, why
