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
from wva_ray.api.service_class import (
    PerfProfileEntry,
    ServiceClasses,
    class_name_for,
    parse_perf_profiles,
    parse_service_classes,
    resolve_target,
)
from wva_ray.core.analyzers.slo.analyzer import SloModelState, SloSettings, analyze_slo
from wva_ray.core.analyzers.slo.bridge import model_inputs
from wva_ray.core.analyzers.v2 import decide_v2
from wva_ray.core.variants import Variant


@dataclass(frozen=True, slots=True)
class SloContext:
    """The service classes and profile overrides of one snapshot, parsed once per cycle."""

    classes: ServiceClasses
    profiles: tuple[PerfProfileEntry, ...]
    warnings: tuple[str, ...]


def slo_context(service_classes: Mapping[str, Any], slo_profiles: Mapping[str, Any]) -> SloContext:
    classes, w1 = parse_service_classes(service_classes)
    profiles, w2 = parse_perf_profiles(slo_profiles)
    return SloContext(
        classes,
        profiles,
        tuple(f"config.serviceClasses.{w}" for w in w1) + tuple(f"config.sloProfiles.{w}" for w in w2),
    )


@dataclass(frozen=True, slots=True)
class SloStageResult:
    targets: dict[str, int]
    reasons: dict[str, str]
    steps: list[str]
    cost_per_capacity: dict[str, float]
    history: dict[str, list[float]]
    state: dict[str, Any] | None
    class_priority: int
    warnings: list[str]


def decide_slo(
    variants: Sequence[Variant],
    settings: SaturationSettings,
    ctx: SloContext,
    history: Mapping[str, list[float]],
    state_in: Mapping[str, Any] | None,
    now: datetime,
) -> SloStageResult:
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
    cpc = {v.key: (v.cost / net.capacity[v.key] if net.capacity.get(v.key, 0) > 0 else v.cost) for v in variants}
    if not model.variants:
        steps.append("slo: no performance profile for any variant of this model; using V2")
        return SloStageResult(net.targets, net.reasons, steps, cpc, net.history, None, target.priority, warnings)
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
    return SloStageResult(
        targets, reasons, [*res.steps, *steps], cpc, net.history, res.state.to_dict(), target.priority, warnings
    )
