"""The decision pipeline: `decide(snapshot, now) -> Plan` (wva-behaviour.md section 3). Pure.

configuration merge -> variants (targets, conflicts, live-pod metrics) -> analyzer per model group (registry) ->
enforcer -> global allocation -> one Decision per VA, each with its action, reason, steps and conditions
(`core.conditions`); the data between the two halves is `core.proposals`.
`propose` stops before global allocation (what a shard sends to the coordinator); `finalize` runs it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from wva_ray.api.config import SaturationSettings
from wva_ray.api.plan import Action, Decision, DecisionSource, Plan
from wva_ray.api.reasons import Reason
from wva_ray.api.snapshot import DecisionState, Snapshot
from wva_ray.core.allocation import Budget, Proposal, allocate
from wva_ray.core.analyzers.base import (
    AnalyzerSettings,
    GroupState,
    ModelGroup,
    PodRows,
    Sizing,
    SloContext,
    slo_context,
)
from wva_ray.core.analyzers.v09_list import analyzer_of
from wva_ray.core.analyzers.v1 import variant_spare_kv
from wva_ray.core.annotated import Discovery, discovered_from, expand
from wva_ray.core.conditions import Conditions, conditions_of
from wva_ray.core.config import ParsedConfig, parse_config, resolve_saturation, resolve_scale_to_zero
from wva_ray.core.enforcer import clamp, enforce
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.proposals import Draft, GroupWarnings, Proposals
from wva_ray.core.roles import size_by_role
from wva_ray.core.telemetry import variant_telemetry
from wva_ray.core.v09_config import quota_of
from wva_ray.core.v09_queueing import QueueingModel, map_queueing_model
from wva_ray.core.variants import Variant, build_variants
from wva_ray.core.warmup import deferred_scale_down, metrics_back_for_s

__all__ = [  # Draft, GroupWarnings and Proposals live in core.proposals; re-exported for the pipeline's users
    "Draft",
    "GroupWarnings",
    "Proposals",
    "budget_for",
    "decide",
    "finalize",
    "global_warnings",
    "propose",
    "to_proposal",
]

_BLOCKING = {
    Reason.TARGET_CONFLICT,
    Reason.INVALID_CONFIGURATION,
    Reason.TARGET_NOT_FOUND,
    Reason.MISSING_ACCELERATOR,
}


@dataclass(slots=True)
class _CarriedState:
    """Analyzer-slo state across the groups of one propose(): state in (by `ModelGroupRef.text`), state out."""

    state_in: Mapping[str, Mapping[str, object]]
    state_out: dict[str, dict[str, object]] = field(default_factory=dict)
    learned_in: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # analyzer learned, same shape
    learned_out: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: PodRows = field(default_factory=PodRows)


def _blocking(v: Variant) -> bool:
    return any(h.reason in _BLOCKING for h in v.holds)


def _decide_group(
    variants: Sequence[Variant],
    settings: AnalyzerSettings,
    cfg: ParsedConfig,
    snapshot: Snapshot,
    counts: Mapping[tuple[str, str], float],
    queues: Mapping[tuple[str, str], float],
    history: dict[str, list[float]],
    now: datetime,
    slo: _CarriedState,
) -> tuple[list[Draft], tuple[str, ...]]:
    """Drafts for every VA of one model group, and the analyzer's warnings."""
    namespace, model_id = variants[0].namespace, variants[0].model_id
    analyzer = analyzer_of(settings.saturation)
    label = analyzer.label
    group_steps = [f"model {namespace}/{model_id}: analyzer {label}"]
    blocked = [v for v in variants if _blocking(v)]
    candidates = [v for v in variants if not _blocking(v)]
    decidable = [v for v in candidates if v.metrics_count > 0]
    missing = [v for v in candidates if v.metrics_count == 0]
    drafts: dict[str, Draft] = {}
    for v in blocked:
        hold = next(h for h in v.holds if h.reason in _BLOCKING)
        drafts[v.key] = Draft(v, v.held_value, f"held: {hold.message}", [], label, False, True)
    for v in missing:
        why = "metrics source failed" if snapshot.metrics_error else "no live pod reports metrics"
        drafts[v.key] = Draft(v, v.held_value, f"held: {why}", [], label, True, True)

    sizing = Sizing({}, {}, ())
    spare: dict[str, float] = {}
    if decidable:
        gateway = queues.get((namespace, model_id), queues.get(("", model_id), 0.0))
        group = ModelGroup(namespace, model_id, tuple(decidable), now, slo.rows, gateway)
        group_key = group.key
        state = GroupState(history, slo.state_in.get(group_key), slo.learned_in.get(group_key), slo.learned_in)
        sizing = size_by_role(analyzer, group, settings, state)
        history.update(sizing.history)
        group_steps += sizing.steps
        if sizing.slo_state is not None:
            slo.state_out[group_key] = dict(sizing.slo_state)
        if sizing.learned_state is not None:
            slo.learned_out[group_key] = dict(sizing.learned_state)
        for v in decidable:
            spare[v.key] = variant_spare_kv(v, settings.saturation)
    else:
        group_steps.append("no variant of this model has live metrics: every variant holds")
    targets = dict(sizing.targets)
    reasons, timed_out, cpc = sizing.reasons, sizing.timed_out, sizing.cost_per_capacity
    class_priority = sizing.class_priority

    for v in missing:  # held variants enter the enforcer with their held value
        targets[v.key] = v.held_value
    actable = [*decidable, *missing]
    stz = resolve_scale_to_zero(cfg, namespace, model_id)
    fixed_total = sum(v.held_value for v in blocked)
    enf = enforce(
        actable,
        targets,
        fixed_total,
        stz,
        counts.get((namespace, model_id)),
        queues.get((namespace, model_id), queues.get(("", model_id))),
    )
    group_steps += enf.steps
    for v in decidable:
        reason = enf.notes.get(v.key, reasons.get(v.key, ""))
        warming = metrics_back_for_s(v.va, now)
        desired, deferred = deferred_scale_down(enf.targets[v.key], clamp(v.held_value, v), warming)
        if deferred is not None:
            reason = f"{deferred} ({reason})" if reason else deferred
            group_steps.append(f"{v.name}: {deferred}")
        drafts[v.key] = Draft(
            v,
            desired,
            reason,
            [],
            label,
            True,
            False,
            timed_out=v.key in timed_out,
            spare_ratio=spare.get(v.key, 0.0),
            cost_per_capacity=cpc.get(v.key, v.cost),
            class_priority=class_priority,
            warming_s=warming,
        )
    for v in missing:
        d = drafts[v.key]
        if enf.targets[v.key] != v.held_value:
            d.desired = enf.targets[v.key]
            d.reason = enf.notes.get(v.key, d.reason)
            d.held = False  # the enforcer acted on it: scale-to-zero, model minimum or scale-from-zero
        d.woke_from_zero = v.key in enf.scaled_from_zero
        d.cost_per_capacity = v.cost
    out = []
    decided = {v.key for v in decidable}
    for v in variants:
        d = drafts[v.key]
        d.metrics_error = snapshot.metrics_error
        d.steps = [*group_steps, *(f"{v.name}: {h.message}" for h in v.holds)]
        view = sizing.capacity if v.key in decided else None
        d.telemetry = variant_telemetry(v, view, enf.notes.get(v.key, ""), bool(snapshot.metrics_error))
        out.append(d)
    return out, sizing.warnings


def _global_warnings(
    cfg: ParsedConfig, discovery: Discovery, slo_ctx: SloContext, queueing: QueueingModel
) -> tuple[str, ...]:
    return (*cfg.warnings, *discovery.warnings, *slo_ctx.warnings, *queueing.warnings)


def _slo_inputs(snapshot: Snapshot) -> tuple[SloContext, QueueingModel]:
    """The service classes (with v0.9's queueing-model ConfigMap mapped in) and that mapping."""
    config = snapshot.config
    queueing = map_queueing_model(config.queueing_model, config.service_classes)
    return slo_context({**config.service_classes, **queueing.service_classes}, config.slo_profiles), queueing


def global_warnings(snapshot: Snapshot) -> tuple[str, ...]:
    """The snapshot-wide warnings `propose` reports (configuration, discovery, service classes and profiles)."""
    expanded, discovery = expand(snapshot)
    return _global_warnings(parse_config(expanded.config), discovery, *_slo_inputs(expanded))


def propose(snapshot: Snapshot, now: datetime) -> Proposals:
    """Everything up to (not including) global allocation: per-model-group drafts for every VA."""
    snapshot, discovery = expand(snapshot)  # annotated scalers -> in-memory VAs (no-op without scalers)
    cfg = parse_config(snapshot.config)
    variants = build_variants(snapshot)
    groups: dict[ModelGroupRef, list[Variant]] = defaultdict(list)
    for v in variants:
        groups[ModelGroupRef(v.namespace, v.model_id)].append(v)
    counts = {(c.namespace, c.model_name): c.count for c in snapshot.request_counts}
    queues: dict[tuple[str, str], float] = defaultdict(float)
    for q in snapshot.flow_control_queues:
        queues[(q.namespace or "", q.model_name)] += q.size
    history = {k: list(v) for k, v in snapshot.state.capacity_history.items()}
    slo_ctx, queueing = _slo_inputs(snapshot)
    slo = _CarriedState(
        snapshot.state.slo, learned_in=snapshot.state.learned, rows=PodRows(snapshot.metrics, snapshot.pods)
    )
    drafts: list[Draft] = []
    notes: dict[ModelGroupRef, GroupWarnings] = {}
    for ref, members in sorted(groups.items()):
        resolved = resolve_saturation(cfg, ref.namespace, ref.model_id)
        group_settings = resolved.settings
        if queueing.active:  # v0.9: the queueing-model ConfigMap takes precedence; wva-ray sizes with slo
            group_settings = group_settings.model_copy(update={"analyzer_name": "slo"})
        settings = AnalyzerSettings(group_settings, slo_ctx)
        group_drafts, analyzer_warnings = _decide_group(
            members, settings, cfg, snapshot, counts, queues, history, now, slo
        )
        for d in group_drafts:
            d.rescale_priority = resolved.settings.priority
        drafts += group_drafts
        notes[ref] = GroupWarnings(tuple(f"{ref.text}: {p}" for p in resolved.problems), analyzer_warnings)
    drafts.sort(key=lambda d: (d.variant.namespace, d.variant.name))
    # Allocation settings come from the global `default` entry only (built-in < global default).
    global_cfg = ParsedConfig(cfg.saturation, cfg.scale_to_zero, {}, {}, cfg.scale_to_zero_fallback)
    allocation = resolve_saturation(global_cfg, "", "").settings
    label = analyzer_of(allocation).label
    stz_on = resolve_scale_to_zero(global_cfg, "", "").enabled
    inventory = snapshot.gpu_available
    gpu_discovery = 0 if snapshot.gpu_inventory_error else (1 if inventory is not None else -1)
    for d in drafts:
        d.telemetry = replace(
            d.telemetry,
            gpu_discovery=gpu_discovery,
            gpus_available=tuple(sorted((inventory or {}).items())),
            analyzer_name=label,
            limiter_enabled=allocation.enable_limiter,
            scale_to_zero_enabled=stz_on,
            kv_spare_threshold=allocation.kv_spare_trigger,
            queue_spare_threshold=allocation.queue_spare_trigger,
        )
    # slo state of groups not decided this cycle (no metrics) is carried over unchanged
    slo_state = {**{k: dict(v) for k, v in snapshot.state.slo.items()}, **slo.state_out}
    learned_state = {**{k: dict(v) for k, v in snapshot.state.learned.items()}, **slo.learned_out}
    state = DecisionState(capacity_history=history, slo=slo_state, learned=learned_state)
    return Proposals(drafts, state, _global_warnings(cfg, discovery, slo_ctx, queueing), notes, allocation)


def budget_for(snapshot: Snapshot, s: SaturationSettings) -> Budget | None:
    """The allocation budget, or None when global allocation is off (no limiter, no budget)."""
    if not (s.enable_limiter or s.gpu_budget or s.power_budget_watts is not None):
        return None
    inventory_failed = snapshot.gpu_inventory_error is not None
    free = None if inventory_failed else snapshot.gpu_available
    return Budget(
        free_gpus=free if s.enable_limiter else None,
        gpu_budget=s.gpu_budget,
        power_budget_watts=s.power_budget_watts,
        accelerator_watts=s.accelerator_watts,
        block_scale_ups=inventory_failed and s.enable_limiter and s.limiter_failure_mode == "closed",
        quota=quota_of(s.limiters) if s.enable_limiter else None,  # v0.9: quotas need enableLimiter (upstream)
        rescale=s.enable_rescale and s.enable_limiter,  # v0.9: greedy-by-score only, i.e. with the limiter
    )


def to_proposal(d: Draft) -> Proposal:
    v = d.variant
    return Proposal(
        key=v.key,
        group=f"{v.namespace}/{v.model_id}",
        name=v.name,
        accelerator=v.accelerator,
        gpus_per_replica=v.gpus_per_replica,
        current=v.current,
        desired=d.desired,
        priority=v.priority if d.class_priority is None else min(v.priority, d.class_priority),
        spare_ratio=d.spare_ratio,
        cost_per_capacity=d.cost_per_capacity,
        cost=v.cost,
        max_replicas=v.max_replicas,
        actable=d.actable and not d.held and v.target_found,
        rescale_priority=d.rescale_priority,
    )


def finalize(proposals: Proposals, budget: Budget | None, metrics_error: str | None = None) -> Plan:
    """Global allocation over all drafts, then one Decision per VA (sorted by namespace, name)."""
    drafts = proposals.drafts
    grants = allocate([to_proposal(d) for d in drafts], budget) if budget is not None else {}
    decisions: list[Decision] = []
    conds = Conditions()
    limiter = _limiter_name(budget)
    for d in drafts:
        v = d.variant
        grant = grants.get(v.key)
        desired = grant.desired if grant is not None else d.desired
        steps = list(d.steps)
        limited_note = None
        reason = d.reason
        if grant is not None and grant.note:
            steps.append(f"global allocation: {grant.note}")
        if grant is not None and grant.limited:
            limited_note = f"limited to {desired} (wanted {d.desired}): {grant.note}"
            reason = f"{reason}; {limited_note}"
        elif grant is not None and desired != d.desired:
            reason = f"{reason}; {grant.note}"
        action = (
            Action.SCALE_UP if desired > v.current else Action.SCALE_DOWN if desired < v.current else Action.NO_CHANGE
        )
        conflict = any(h.reason == Reason.TARGET_CONFLICT for h in v.holds)
        found = discovered_from(v.va)
        decisions.append(
            Decision.model_construct(
                namespace=v.namespace,
                name=v.name,
                model_id=v.model_id,
                accelerator=v.accelerator,
                current_replicas=v.current,
                desired_replicas=desired,
                action=action,
                reason=reason,
                steps=steps,
                conditions=conditions_of(d, metrics_error, limited_note, conds),
                analyzer=d.analyzer,
                priority=v.priority,
                gpus_per_replica=v.gpus_per_replica,
                limited=limited_note is not None,
                held=d.held,
                publish=bool(v.accelerator) and not conflict,
                source=DecisionSource.model_construct(kind=found[0], reason=found[1]) if found else None,
                telemetry=replace(d.telemetry, limiter_name=limiter) if limited_note is not None else d.telemetry,
            )
        )
    return Plan(decisions=decisions, warnings=proposals.warnings, state=proposals.state)


def _limiter_name(budget: Budget | None) -> str:
    """What limited a grant, in upstream's limiter names where they apply (`quota`, `gpu-inventory`)."""
    if budget is None:
        return ""
    if budget.quota is not None:
        return "quota"
    return "gpu-inventory" if budget.free_gpus is not None else "budget"


def decide(snapshot: Snapshot, now: datetime | None = None) -> Plan:
    """The whole pipeline on one snapshot. `now` defaults to the snapshot's own `now` (never the wall clock)."""
    at = now if now is not None else snapshot.now
    proposals = propose(snapshot, at)
    return finalize(proposals, budget_for(snapshot, proposals.allocation_settings), snapshot.metrics_error)
