"""Cheapest-first decisions across the variant deployments of one Serve application (one deployment per
accelerator variant of one model). Pure: no I/O, no clock.

wva-behaviour 3.2 over all variants at once, then the 3.4 floor:
- the per-deployment gate first (`step.transition_gate`): a variant whose Serve target differs from its running
  count, or whose running replicas do not all report fresh signals, locks the whole model: every variant holds;
- a variant that is running but reports nothing is held alone and left out (missing data is never zero);
- core's V1 analyzer over the pods of all remaining variants, then core's selection rules (`core.rules`): scale-up:
  +1 on the cheapest variant below its max (ties: name ascending; a variant at 0 replicas is a candidate); safe
  scale-down: -1 on the most expensive variant above both 1 and its min (ties: name descending);
- if every variant would be at 0, the cheapest gets 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wva_ray.api.config import SaturationSettings
from wva_ray.api.reasons import Reason
from wva_ray.core.analyzers.v1 import analyze_pods
from wva_ray.core.rules import cheapest, may_grow, may_shrink, most_expensive
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView, StepDecision
from wva_ray.serve.step import transition_gate

DEFAULT_VARIANT_COST = 10.0


@dataclass(frozen=True, slots=True)
class VariantInput:
    """One variant deployment on one tick."""

    name: str
    cost: float
    view: DeploymentView
    state: DeploymentPolicyState
    pods: tuple[tuple[float, float], ...]


def _hold(v: VariantInput, reason: Reason) -> StepDecision:
    return StepDecision(v.view.target, reason, DeploymentPolicyState(None, v.view.target, reason.value))


def _set(v: VariantInput, desired: int, reason: Reason) -> StepDecision:
    return StepDecision(desired, reason, DeploymentPolicyState(None, desired, reason.value))


def decide_variants(
    variants: Sequence[VariantInput], saturation: SaturationSettings, transition_timeout_s: float
) -> dict[str, StepDecision]:
    """One tick for all variants of one model; keys are variant (deployment) names."""
    out: dict[str, StepDecision] = {}
    candidates: list[VariantInput] = []
    locked = False
    for v in variants:
        if v.view.current == 0 and v.view.target == 0:
            candidates.append(v)
            continue
        held, _ = transition_gate(v.view, v.state, transition_timeout_s)
        if held is not None:
            out[v.name] = held
            locked = locked or held.reason in (Reason.TRANSITION, Reason.NO_RUNNING_REPLICAS)
            continue
        if not v.pods:
            out[v.name] = _hold(v, Reason.METRICS_MISSING)
            continue
        if len(v.pods) != v.view.current:
            out[v.name] = _hold(v, Reason.METRICS_PARTIAL)
            locked = True
            continue
        candidates.append(v)
    if locked:
        for v in candidates:
            out[v.name] = _hold(v, Reason.TRANSITION)
        return out
    pods = [p for v in candidates for p in v.pods]
    if not pods:
        for v in candidates:
            out[v.name] = _hold(v, Reason.METRICS_MISSING)
        return _floor(variants, out)
    analysis = analyze_pods(pods, saturation)
    for v in candidates:
        out[v.name] = _set(v, v.view.target, Reason.STEADY)
    if analysis.scale_up:
        up = cheapest(v for v in candidates if may_grow(v.view.target, v.view.max_replicas))
        if up is not None:
            out[up.name] = _set(up, up.view.target + 1, Reason.SCALE_UP)
        else:
            for v in candidates:
                out[v.name] = _set(v, v.view.target, Reason.AT_MAX)
    elif analysis.scale_down_safe:
        down = most_expensive(v for v in candidates if may_shrink(v.view.target, v.view.min_replicas))
        if down is not None:
            out[down.name] = _set(down, down.view.target - 1, Reason.SCALE_DOWN)
    return _floor(variants, out)


def _floor(variants: Sequence[VariantInput], out: dict[str, StepDecision]) -> dict[str, StepDecision]:
    """wva-behaviour 3.4: if all variants would be at 0, the cheapest (ties: name ascending) gets 1."""
    pick = cheapest(variants)
    if pick is None or any(d.desired > 0 for d in out.values()):
        return out
    out[pick.name] = _set(pick, max(1, pick.view.min_replicas), Reason.MIN_ONE_REPLICA)
    return out
