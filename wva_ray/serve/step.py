"""The per-deployment decision of the saturation policy (modes `replica_stats` and `prometheus`). Pure: no I/O,
no clock (the time is `DeploymentView.now_s`, taken from the Serve context).

It applies wva-behaviour 3.2 to one Serve deployment treated as one variant of one model:
1. no running replica: hold Serve's target (Serve's cold-start path owns 0 -> 1);
2. transition lock: while Serve's target differs from the running count, hold the target; the lock expires
   `transition_timeout_s` after it was first seen, then re-baseline at the running count;
3. missing data is held, never read as zero: a running replica without a fresh sample holds the target;
4. otherwise core's V1 analyzer on the replicas' (kv, queue) signals: +1 on scale-up, -1 when scale-down is
   safe, clamped to the deployment's capacity-adjusted bounds.
Serve then applies its own factors, delays and bounds to the returned count (see docs/ray-serve.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from wva_ray.api.config import SaturationSettings
from wva_ray.api.reasons import Reason
from wva_ray.core.analyzers.v1 import analyze_pods
from wva_ray.core.rules import Gate
from wva_ray.core.rules import transition_gate as transition_gate_rule
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView, StepDecision


def _decision(desired: int, reason: Reason, started: float | None) -> StepDecision:
    return StepDecision(desired, reason, DeploymentPolicyState(started, desired, reason.value))


def transition_gate(
    view: DeploymentView, state: DeploymentPolicyState, timeout_s: float
) -> tuple[StepDecision | None, float | None]:
    """Rules 1-2 (rule 2 is `core.rules.transition_gate`). Returns (a holding decision or None to go on, the
    transition start time to keep)."""
    if view.current == 0:
        return _decision(view.target, Reason.NO_RUNNING_REPLICAS, None), None
    started = state.transition_started_s if state.transition_started_s is not None else view.now_s
    gate = transition_gate_rule(view.target != view.current, view.now_s - started, timeout_s)
    if gate is Gate.OPEN:
        return None, None
    if gate is Gate.EXPIRED:
        return _decision(view.clamp(view.current), Reason.TRANSITION_TIMED_OUT, None), None
    return _decision(view.target, Reason.TRANSITION, started), started


def decide_step(
    view: DeploymentView,
    pods: Sequence[tuple[float, float]],
    state: DeploymentPolicyState,
    saturation: SaturationSettings,
    transition_timeout_s: float,
) -> StepDecision:
    """One tick for one deployment. `pods` holds (kv_ratio, queue_len) of running replicas with fresh data."""
    held, started = transition_gate(view, state, transition_timeout_s)
    if held is not None:
        return held
    if not pods:
        return _decision(view.target, Reason.METRICS_MISSING, started)
    if len(pods) != view.current:
        return _decision(view.target, Reason.METRICS_PARTIAL, started)
    analysis = analyze_pods(pods, saturation)
    if analysis.scale_up:
        if view.target >= view.max_replicas:
            return _decision(view.target, Reason.AT_MAX, started)
        return _decision(view.clamp(view.target + 1), Reason.SCALE_UP, started)
    if analysis.scale_down_safe and view.target > view.min_replicas:
        return _decision(view.clamp(view.target - 1), Reason.SCALE_DOWN, started)
    return _decision(view.target, Reason.STEADY, started)
