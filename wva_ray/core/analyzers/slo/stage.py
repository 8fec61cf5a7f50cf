"""Analyzer `slo` as a stage of the pipeline: what `decide()` runs for a model group whose merged configuration
says `analyzerName: slo`. Pure.

desired = max(SLO sizing, V2 saturation safety net) per variant with a performance profile; variants without a
profile keep V2's target. The group's service class comes from the first VA (by name) that names one (label, then
annotation `wva.llmd.ai/service-class`), else the default class; its priority feeds global allocation. The
analyzer's learned state (rate level/trend, estimators) is carried in `plan.state.slo["namespace/modelID"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wva_ray.api.config import SaturationSettings
from wva_ray.api.service_class import class_name_for, resolve_target
from wva_ray.core.analyzers.base import (
    AnalyzerSettings,
    GroupState,
    ModelGroup,
    Sizing,
    SloContext,
    cost_per_capacity,
)
from wva_ray.core.analyzers.slo.analyzer import SloModelState, SloSettings, analyze_slo
from wva_ray.core.analyzers.slo.bridge import model_inputs
from wva_ray.core.analyzers.v2 import decide_v2
from wva_ray.core.variants import Variant


def decide_slo(
    variants: Sequence[Variant],
    settings: SaturationSettings,
    ctx: SloContext,
    history: Mapping[str, list[float]],
    state_in: Mapping[str, Any] | None,
    now: datetime,
) -> Sizing:
    """Targets for the decidable variants of one model group (all of one namespace and model)."""
    net = decide_v2(variants, settings, history)
    warnings: list[str] = []
    requested = next(
        (
            name
            for v in sorted(variants, key=lambda v: v.name)
            if (name := class_name_for(v.va.metadata.labels, v.va.metadata.annotations))
        ),
        None,
    )
    target, warning = resolve_target(ctx.classes, requested, variants[0].model_id)
    if warning:
        warnings.append(f"{variants[0].namespace}/{variants[0].model_id}: {warning}")
    model, unsized = model_inputs(variants, target, ctx.profiles, net.targets)
    steps = [f"safety net (V2): {s}" for s in net.steps]
    cpc = cost_per_capacity(variants, net.capacity)
    if not model.variants:
        steps.append("slo: no performance profile for any variant of this model; using V2")
        return Sizing(
            net.targets,
            net.reasons,
            tuple(steps),
            cpc,
            class_priority=target.priority,
            history=net.history,
            warnings=tuple(warnings),
        )
    try:
        state = SloModelState.from_dict(state_in or {})
    except ValueError as err:
        warnings.append(f"{model.namespace}/{model.model_id}: {err}; starting afresh")
        state = SloModelState()
    res = analyze_slo(model, state, SloSettings(), now.timestamp())
    targets = {**net.targets, **res.targets}
    reasons = {**net.reasons, **res.reasons}
    for v in unsized:
        reasons[v.key] = f"{reasons.get(v.key, '')} (no performance profile for {v.accelerator}: V2 only)"
    cpc.update({k: c for k, c in res.cost_per_capacity.items() if c > 0})
    return Sizing(
        targets,
        reasons,
        (*res.steps, *steps),
        cpc,
        class_priority=target.priority,
        history=net.history,
        slo_state=res.state.to_dict(),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True, slots=True)
class SloAnalyzer:
    """The registry's entry for `analyzerName: slo`."""

    label: str = "slo"

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        return decide_slo(
            group.variants, settings.saturation, settings.slo, state.capacity_history, state.slo, group.now
        )
