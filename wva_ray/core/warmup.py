"""No scale-down while a VA's metrics warm up after a long outage. Pure: `now` is an input.

Found by the 5-minute Prometheus outage in the closed loop (tests/loop/test_faults.py): on the first cycle after
Prometheus came back, two of five pods had not been scraped yet and every 1 m window (`rate`, `increase`, the
arrival and token signals) was empty after the gap, so the model looked idle: 5 replicas -> 1 in one cycle under
an unchanged load of about 3 replicas' worth, then back up to 3 over the next cycles, with failed requests.

The VA's own status carries what is needed, the MetricsAvailable condition as last written:
- False since `lastTransitionTime` T0 (the outage began then), and this cycle has metrics: the outage lasted
  `now - T0`. One of at least `WARMUP_AFTER_S` starts the warm-up; a shorter one (a late scrape, a restart
  within seconds) left every window at least half full and does not.
- True with reason MetricsWarmingUp since T1: warming up while `now - T1 < METRICS_WARMUP_S`.
- TargetResolved False as last written, and this cycle has metrics: the scale target came back (a Deployment
  deleted and recreated): its pods are new, their windows empty, and its replica count is the new object's, not
  the decision held meanwhile. The warm-up starts whatever the outage lasted (found by the closed loop's
  Deployment fault: held 3 while the target was gone, then 1 on the first cycle back, then a flapping 3/2).
While warming up, the condition says MetricsWarmingUp and a decision below what the VA holds is deferred
(scale-ups go ahead: they are safe on partial data). A VA that never had the condition (new) is not held.
"""

from __future__ import annotations

from datetime import datetime

from wva_ray.api.reasons import Reason
from wva_ray.api.va import ConditionStatus, ConditionType, VariantAutoscaling

# the saturation queries' windows (adapters.prometheus.queries.WINDOW_S: `[1m]`): after a gap they fill in that long
METRICS_WARMUP_S = 60.0
# an outage shorter than half the window leaves each window at least half full: no warm-up after it
WARMUP_AFTER_S = METRICS_WARMUP_S / 2


def metrics_back_for_s(va: VariantAutoscaling, now: datetime) -> float | None:
    """Seconds the VA's metrics have been back after an outage of at least `WARMUP_AFTER_S`, while that is less
    than `METRICS_WARMUP_S` (0 when its status still says they are unavailable); None when not warming up."""
    conditions = va.status.conditions if va.status is not None else []
    target = next((c for c in conditions if c.type == ConditionType.TARGET_RESOLVED), None)
    if target is not None and target.status == ConditionStatus.FALSE:
        return 0.0  # the target is back (this VA is decided, so it was found this cycle): its pods are new
    cond = next((c for c in conditions if c.type == ConditionType.METRICS_AVAILABLE), None)
    if cond is None or cond.last_transition_time is None:
        return None
    since = cond.last_transition_time
    if since.tzinfo is None and now.tzinfo is not None:
        since = since.replace(tzinfo=now.tzinfo)
    elapsed = (now - since).total_seconds()
    if cond.status != ConditionStatus.TRUE:
        return 0.0 if elapsed >= WARMUP_AFTER_S else None
    if cond.reason == Reason.METRICS_WARMING_UP and elapsed < METRICS_WARMUP_S:
        return max(0.0, elapsed)
    return None


def deferred_scale_down(target: int, held: int, back_for_s: float | None) -> tuple[int, str | None]:
    """(the target to decide, why it was raised): `target` below `held` while the metrics warm up stays at `held`."""
    if back_for_s is None or target >= held:
        return target, None
    why = (
        f"scale-down to {target} deferred: metrics back for {back_for_s:.0f} s of the {METRICS_WARMUP_S:.0f} s "
        f"warm-up after an outage; holding {held}"
    )
    return held, why


def warming_message(back_for_s: float) -> str:
    """The MetricsAvailable message while warming up."""
    return (
        f"metrics back for {back_for_s:.0f} s after an outage; no scale-down until their {METRICS_WARMUP_S:.0f} s "
        "windows have refilled"
    )
