"""The data of one decision cycle and the pure steps around `decide`. No I/O, no clock.

A cycle: the coordinator observes the cluster (a `Snapshot` without metrics) and `split`s it into one
`ShardWork` per shard (rendezvous hashing of model groups); each shard collects its groups' metrics and runs
`wva_ray.core.propose` (analyzers and enforcer, no global allocation), returning a `ShardProposal`; the
coordinator's `finalize_cycle` runs global allocation over all proposals. A group whose shard did not answer in
time is proposed by the coordinator without metrics, so the core holds its last published decision (missing
metrics are held, never zero).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import DecisionState, Snapshot
from wva_ray.core.decide import Proposals, budget_for, finalize, propose
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import assign
from wva_ray.runtime.gc_pause import gc_paused


@dataclass(frozen=True, slots=True)
class ScrapeEndpoint:
    """Where a pod's vLLM `/metrics` can be read (direct-scrape mode)."""

    namespace: str
    pod: str
    model_id: str
    url: str


@dataclass(frozen=True)
class ShardWork:
    """What one shard must decide this cycle: its model groups and their part of the cluster state."""

    cycle: int
    shard: int
    groups: tuple[ModelGroupRef, ...]
    snapshot: Snapshot
    epoch: str = ""  # the coordinator incarnation that issued the work
    endpoints: tuple[ScrapeEndpoint, ...] = ()  # direct-scrape targets of the shard's pods (else empty)


@dataclass(frozen=True)
class ShardProposal:
    """A shard's answer for one cycle (crosses actor boundaries: plain, picklable data).

    `proposals` is the core's pre-allocation result for the shard's groups; None when the shard failed (its
    groups are then held like those of a late shard).
    """

    cycle: int
    shard: int
    groups: tuple[ModelGroupRef, ...]
    proposals: Proposals | None = None
    epoch: str = ""
    metrics_rows: int = 0
    metrics_error: str | None = None
    error: str | None = None
    duration_s: float = 0.0


def model_groups(snapshot: Snapshot) -> list[ModelGroupRef]:
    """Every model group of the snapshot's VAs, in key order."""
    groups = {ModelGroupRef(va.metadata.namespace, va.spec.model_id) for va in snapshot.variant_autoscalings}
    return sorted(groups, key=lambda g: (g.namespace, g.model_id))


def restrict(snapshot: Snapshot, groups: Iterable[ModelGroupRef]) -> Snapshot:
    """The part of `snapshot` that concerns `groups`: their VAs, targets, pods and metrics rows."""
    wanted = {(g.namespace, g.model_id) for g in groups}
    vas = [va for va in snapshot.variant_autoscalings if (va.metadata.namespace, va.spec.model_id) in wanted]
    target_keys = {(va.metadata.namespace, va.spec.scale_target_ref.name) for va in vas}
    namespaces = {ns for ns, _ in wanted}
    return snapshot.model_copy(
        update={
            "variant_autoscalings": vas,
            "scale_targets": [t for t in snapshot.scale_targets if (t.namespace, t.name) in target_keys],
            "pods": [p for p in snapshot.pods if (p.namespace, p.target) in target_keys],
            "metrics": [m for m in snapshot.metrics if (m.namespace, m.model_name) in wanted],
            "request_counts": [r for r in snapshot.request_counts if (r.namespace, r.model_name) in wanted],
            "flow_control_queues": [
                q for q in snapshot.flow_control_queues if q.namespace is None or q.namespace in namespaces
            ],
        }
    )


def split(
    snapshot: Snapshot, shards: int, cycle: int, endpoints: Sequence[ScrapeEndpoint] = ()
) -> dict[int, ShardWork]:
    """One `ShardWork` per shard (shards with no group get empty work, so every shard reports each cycle)."""
    owned = assign(model_groups(snapshot), shards)
    out = {}
    for s, groups in owned.items():
        wanted = {(g.namespace, g.model_id) for g in groups}
        part = restrict(snapshot, groups).model_copy(update={"state": state_for(snapshot.state, groups)})
        mine = tuple(e for e in endpoints if (e.namespace, e.model_id) in wanted)
        out[s] = ShardWork(cycle, s, groups, part, endpoints=mine)
    return out


def finalize_cycle(
    base: Snapshot, proposals: Sequence[ShardProposal], missing: Sequence[ModelGroupRef], now: datetime
) -> Plan:
    """Global allocation over every shard's proposals; the groups in `missing` (late, dead or failed shard) are
    proposed here without metrics, so the core holds their last published decision.

    The metrics error is passed on only when every shard that reported failed to read metrics (a single shard's
    failure already shows as held groups).
    """
    parts = [p.proposals for p in proposals if p.proposals is not None]
    if missing or not parts:
        held = restrict(base, missing).model_copy(update={"metrics": [], "request_counts": []})
        with gc_paused():
            parts.append(propose(held, now))
    drafts = sorted((d for part in parts for d in part.drafts), key=lambda d: (d.variant.namespace, d.variant.name))
    warnings = list(dict.fromkeys(w for part in parts for w in part.warnings))
    state = merge_state(base.state, [part.state for part in parts])
    merged = Proposals(drafts, state, warnings, parts[0].allocation_settings)
    errors = [p.metrics_error for p in proposals if p.metrics_error]
    all_failed = bool(proposals) and len(errors) == len(proposals)
    budget = budget_for(base, merged.allocation_settings)
    with gc_paused():
        return finalize(merged, budget, errors[0] if all_failed else None)


def state_for(state: DecisionState, groups: Iterable[ModelGroupRef]) -> DecisionState:
    """The part of the decision state a shard owns (history keys start with `modelID|`; analyzer slo keys are
    `namespace/modelID`)."""
    groups = list(groups)
    models = {g.model_id for g in groups}
    group_keys = {f"{g.namespace}/{g.model_id}" for g in groups}
    return DecisionState(
        capacity_history={k: v for k, v in state.capacity_history.items() if k.split("|", 1)[0] in models},
        slo={k: v for k, v in state.slo.items() if k in group_keys},
    )


def carry_state(work: ShardWork, remembered: DecisionState) -> ShardWork:
    """The shard's work with the decision state it remembers filled in where the coordinator has none for its
    models (a restarted coordinator starts empty; the shards keep the V2 capacity history alive)."""
    if not remembered.capacity_history and not remembered.slo:
        return work
    mine = state_for(remembered, work.groups)
    current = work.snapshot.state
    merged = {**mine.capacity_history, **current.capacity_history}
    merged_slo = {**mine.slo, **current.slo}
    if merged == current.capacity_history and merged_slo == current.slo:
        return work
    state = DecisionState(capacity_history=merged, slo=merged_slo)
    return dataclasses.replace(work, snapshot=work.snapshot.model_copy(update={"state": state}))


def merge_state(base: DecisionState, updates: Sequence[DecisionState]) -> DecisionState:
    """Keys of the updates replace the base's (each shard only returns the keys of its own models)."""
    history: dict[str, list[float]] = dict(base.capacity_history)
    slo = dict(base.slo)
    for update in updates:
        history.update(update.capacity_history)
        slo.update(update.slo)
    return DecisionState(capacity_history=history, slo=slo)


def missing_shards(expected: Iterable[int], proposals: Mapping[int, ShardProposal]) -> list[int]:
    """Shards that did not report (late or dead) in this cycle."""
    return sorted(s for s in expected if s not in proposals)
