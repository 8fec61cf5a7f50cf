"""Sharding one decision cycle: assignment, split, merge and finalize. Pure: no I/O, no clock.

A cycle over N shards: `split(snapshot, N)` gives each shard the part of the snapshot its model groups need
(`ShardPart`); each shard runs `core.propose` on its part (analyzers and enforcer, no global allocation) and
answers a `ShardResult`; `finalize_shards(base, results, missing, now)` merges the answers and runs global
allocation. On any snapshot and any shard count the result is exactly `decide(snapshot)` (a Hypothesis property,
tests/core/test_sharding_property.py). Groups whose shard did not answer (`missing`) are proposed here without
metrics, so the core holds their last published decision (missing metrics are held, never zero).

Assignment is rendezvous (highest-random-weight) hashing: every (key, shard) pair gets a stable 64-bit weight
from BLAKE2b and a key goes to the shard with the highest weight, so N -> N+1 shards moves about 1/(N+1) of the
keys and every process computes the same assignment. What is hashed is a *shard unit*: the model groups that must
be decided together because their decisions depend on each other, namely groups of one modelID (they share V2's
capacity history, keyed by model) and groups whose VAs target one workload (the conflict check needs all of
them). A unit is hashed by its first group's key, so a group that shares nothing hashes by its own key.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import DecisionState, Snapshot
from wva_ray.core.analyzers.v2 import CapacityHistoryKey
from wva_ray.core.annotated import expand
from wva_ray.core.decide import budget_for, finalize, global_warnings, propose
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.proposals import GroupWarnings, Proposals


def _weight(key: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(group: ModelGroupRef, shards: int) -> int:
    """The shard index (0..shards-1) that a unit led by `group` goes to."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    key = group.text
    return max(range(shards), key=lambda s: _weight(key, s))


def assign(groups: Iterable[ModelGroupRef], shards: int) -> Mapping[int, tuple[ModelGroupRef, ...]]:
    """Every shard index (also those with no group) mapped to its groups, in key order; each group hashed alone."""
    return assign_units([(g,) for g in set(groups)], shards)


def assign_units(units: Iterable[Sequence[ModelGroupRef]], shards: int) -> Mapping[int, tuple[ModelGroupRef, ...]]:
    """Every shard index mapped to the groups of the units it owns, in key order; a unit is hashed by its first
    group in key order."""
    out: dict[int, list[ModelGroupRef]] = {s: [] for s in range(shards)}
    for unit in units:
        members = sorted(unit)
        if members:
            out[shard_of(members[0], shards)].extend(members)
    return {s: tuple(sorted(gs)) for s, gs in out.items()}


def model_groups(snapshot: Snapshot) -> list[ModelGroupRef]:
    """Every model group of the snapshot's VAs, in key order."""
    return sorted({ModelGroupRef(va.metadata.namespace, va.spec.model_id) for va in snapshot.variant_autoscalings})


def shard_units(snapshot: Snapshot) -> list[tuple[ModelGroupRef, ...]]:
    """The snapshot's model groups, joined into units that must share a shard (see the module docstring)."""
    parent: dict[ModelGroupRef, ModelGroupRef] = {g: g for g in model_groups(snapshot)}

    def root(g: ModelGroupRef) -> ModelGroupRef:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    def join(a: ModelGroupRef, b: ModelGroupRef) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_by_model: dict[str, ModelGroupRef] = {}
    first_by_target: dict[tuple[str, str, str], ModelGroupRef] = {}
    for va in snapshot.variant_autoscalings:
        g = ModelGroupRef(va.metadata.namespace, va.spec.model_id)
        ref = va.spec.scale_target_ref
        join(g, first_by_model.setdefault(g.model_id, g))
        join(g, first_by_target.setdefault((g.namespace, ref.kind, ref.name), g))
    units: dict[ModelGroupRef, list[ModelGroupRef]] = defaultdict(list)
    for g in sorted(parent):
        units[root(g)].append(g)
    return [tuple(members) for _, members in sorted(units.items())]


def restrict(snapshot: Snapshot, groups: Iterable[ModelGroupRef]) -> Snapshot:
    """The part of `snapshot` that concerns `groups`: their VAs, targets, pods and metrics rows (the snapshot must
    be expanded: annotated scalers already turned into VAs, see `core.annotated.expand`)."""
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


def state_for(state: DecisionState, groups: Iterable[ModelGroupRef]) -> DecisionState:
    """The part of the decision state that `groups` own: the capacity history of their models, their own
    analyzer-slo and analyzer-learned state."""
    groups = list(groups)
    models = {g.model_id for g in groups}
    keys = {g.text for g in groups}
    return DecisionState(
        capacity_history={k: v for k, v in state.capacity_history.items() if CapacityHistoryKey.model_of(k) in models},
        slo={k: v for k, v in state.slo.items() if k in keys},
        learned={k: v for k, v in state.learned.items() if k in keys},
    )


def state_to_send(state: DecisionState, groups: Iterable[ModelGroupRef]) -> DecisionState:
    """What a shard needs of the state: the part its groups own, plus every group's analyzer-learned state, which
    analyzer learned reads (never writes) for priors from similar variants, as `decide()` does."""
    return state_for(state, groups).model_copy(update={"learned": dict(state.learned)})


def merge_state(base: DecisionState, updates: Iterable[tuple[Sequence[ModelGroupRef], DecisionState]]) -> DecisionState:
    """The base state with each update's entries for the groups it owns in their place (an update may carry more,
    for instance the peers' learned state it was sent: those entries are not its to return)."""
    history: dict[str, list[float]] = dict(base.capacity_history)
    slo = dict(base.slo)
    learned = dict(base.learned)
    for groups, update in updates:
        mine = state_for(update, groups)
        history.update(mine.capacity_history)
        slo.update(mine.slo)
        learned.update(mine.learned)
    return DecisionState(capacity_history=history, slo=slo, learned=learned)


@dataclass(frozen=True)
class ShardPart:
    """One shard's share of a cycle: its model groups and the part of the snapshot (and state) they need."""

    groups: tuple[ModelGroupRef, ...]
    snapshot: Snapshot


@dataclass(frozen=True)
class ShardResult:
    """One shard's answer: `proposals` from `core.propose` on its part (None: the shard failed, its groups are
    held), and the metrics error it met (its VAs are then held already)."""

    groups: tuple[ModelGroupRef, ...]
    proposals: Proposals | None
    metrics_error: str | None = None


def split(snapshot: Snapshot, shards: int) -> dict[int, ShardPart]:
    """One part per shard index (a shard with no group gets an empty part, so every shard reports each cycle)."""
    expanded, _ = expand(snapshot)
    owned = assign_units(shard_units(expanded), shards)
    return {s: ShardPart(groups, _part(expanded, groups)) for s, groups in owned.items()}


def _part(expanded: Snapshot, groups: Sequence[ModelGroupRef]) -> Snapshot:
    return restrict(expanded, groups).model_copy(update={"state": state_to_send(expanded.state, groups)})


def merge(
    base: Snapshot,
    results: Sequence[ShardResult],
    missing: Sequence[ModelGroupRef],
    now: datetime,
    missing_errors: Mapping[ModelGroupRef, str] | None = None,
) -> tuple[Proposals, str | None]:
    """The shards' proposals as one, in `propose`'s order, and the metrics error to report.

    Groups in `missing` and groups of a result without proposals are proposed here without metrics; those in
    `missing_errors` with that error as their metrics error (a late shard whose source had failed: its VAs say
    the source failed, not that their pods report nothing). The cycle's metrics error is reported only when
    every shard that owns groups met one (each failing shard's VAs say their own); a shard with no group has
    nothing to read and does not vote.
    """
    expanded, _ = expand(base)
    answered = [(r.groups, r.proposals) for r in results if r.proposals is not None]
    held_groups = [*missing, *(g for r in results if r.proposals is None for g in r.groups)]
    known = missing_errors or {}
    by_error: dict[str | None, list[ModelGroupRef]] = {}
    for g in held_groups:
        by_error.setdefault(known.get(g), []).append(g)
    if not answered and not by_error:
        by_error[None] = []
    for error, groups in by_error.items():
        update: dict[str, object] = {
            "metrics": [],
            "request_counts": [],
            "metrics_error": error or expanded.metrics_error,
        }
        held = _part(expanded, groups).model_copy(update=update)
        answered.append((tuple(groups), propose(held, now)))
    parts = [p for _, p in answered]
    drafts = sorted((d for p in parts for d in p.drafts), key=lambda d: (d.variant.namespace, d.variant.name))
    notes: dict[ModelGroupRef, GroupWarnings] = {}
    for p in parts:
        notes.update(p.group_warnings)
    state = merge_state(base.state, [(groups, p.state) for groups, p in answered])
    merged = Proposals(drafts, state, global_warnings(base), notes, parts[0].allocation_settings)
    voters = [r for r in results if r.groups and r.proposals is not None]
    errors = [r.metrics_error for r in voters if r.metrics_error]
    all_failed = bool(voters) and len(errors) == len(voters)
    return merged, errors[0] if all_failed else None


def finalize_shards(
    base: Snapshot,
    results: Sequence[ShardResult],
    missing: Sequence[ModelGroupRef],
    now: datetime,
    missing_errors: Mapping[ModelGroupRef, str] | None = None,
) -> Plan:
    """`merge`, then global allocation over every shard's drafts (`core.finalize`)."""
    merged, metrics_error = merge(base, results, missing, now, missing_errors)
    return finalize(merged, budget_for(base, merged.allocation_settings), metrics_error)


LATE_ERROR_MAX_AGE_CYCLES = 3


@dataclass(frozen=True, slots=True)
class LateAnswer:
    """What a shard's last answer that missed its cycle's deadline said of its metrics source."""

    cycle: int
    metrics_error: str


def late_metrics_errors(
    late: Mapping[int, Sequence[ModelGroupRef]],
    answers: Mapping[int, LateAnswer],
    cycle: int,
    max_age_cycles: int = LATE_ERROR_MAX_AGE_CYCLES,
) -> dict[ModelGroupRef, str]:
    """The metrics error of each group of a late shard (shard -> its groups) whose last late answer, from at
    most `max_age_cycles` cycles before `cycle`, met one: a shard late because its source is failing (a dead
    Prometheus, retried) says so. A shard late with no recent answer (dead, restarting) gets no error here."""
    out: dict[ModelGroupRef, str] = {}
    for shard, groups in late.items():
        answer = answers.get(shard)
        if answer is None or not 0 <= cycle - answer.cycle <= max_age_cycles:
            continue
        why = f"shard {shard} missed the proposal deadline; its answer to cycle {answer.cycle} came late: "
        for g in groups:
            out[g] = why + answer.metrics_error
    return out
