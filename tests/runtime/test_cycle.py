"""Pure cycle steps: restricting a snapshot to groups, splitting into shard work, state ownership, and
finalising with held groups."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wva_ray.api.snapshot import DecisionState, PodMetrics, Snapshot
from wva_ray.core.decide import propose
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import merge_state, model_groups, restrict, state_for
from wva_ray.runtime.cycle import ShardProposal, carry_state, finalize_cycle, split
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _snapshot(models: int = 5, kv: float = 0.5) -> Snapshot:
    c = MemoryCluster(lambda: 0.0)
    for m in range(models):
        for acc, cost in (("H100", 10.0), ("L40S", 3.0)):
            c.add_variant(VariantSpec(f"m{m}-{acc.lower()}", f"m{m}", acc, cost=cost, namespace=f"ns{m % 2}"))
        c.set_load(f"m{m}", kv, 0.0)
    rows = c.scripted_pod_metrics(model_groups(c.observe(NOW)))
    return c.observe(NOW).model_copy(update={"metrics": rows})


def test_restrict_keeps_only_the_groups_objects() -> None:
    snap = _snapshot()
    part = restrict(snap, [ModelGroupRef("ns0", "m0")])
    assert sorted(va.metadata.name for va in part.variant_autoscalings) == ["m0-h100", "m0-l40s"]
    assert {t.name for t in part.scale_targets} == {"m0-h100", "m0-l40s"}
    assert {p.target for p in part.pods} == {"m0-h100", "m0-l40s"}
    assert {m.model_name for m in part.metrics} == {"m0"}
    assert restrict(snap, [ModelGroupRef("ns1", "m0")]).variant_autoscalings == []  # wrong namespace


@pytest.mark.parametrize("shards", [1, 2, 3, 8])
def test_split_partitions_every_group_exactly_once(shards: int) -> None:
    snap = _snapshot(models=9)
    works = split(snap, shards, cycle=7)
    assert set(works) == set(range(shards))
    names = [va.key for w in works.values() for va in w.snapshot.variant_autoscalings]
    assert sorted(names) == sorted(va.key for va in snap.variant_autoscalings)
    assert all(w.cycle == 7 for w in works.values())


def test_state_is_owned_per_model_and_merges_without_clobbering() -> None:
    state = DecisionState(capacity_history={"m0|H100|<100": [1.0], "m1|H100|<100": [2.0]})
    mine = state_for(state, [ModelGroupRef("ns0", "m0")])
    assert mine.capacity_history == {"m0|H100|<100": [1.0]}
    m0 = [ModelGroupRef("ns0", "m0")]
    update = DecisionState(capacity_history={"m0|H100|<100": [1.0, 3.0], "m1|H100|<100": [7.0]})  # m1: not its own
    merged = merge_state(state, [(m0, update), ([], state_for(state, []))])
    assert merged.capacity_history == {"m0|H100|<100": [1.0, 3.0], "m1|H100|<100": [2.0]}


def test_finalize_holds_missing_groups_and_uses_shard_proposals_for_the_rest() -> None:
    base = _snapshot(models=4, kv=0.95)  # every model wants to scale up
    works = split(base.model_copy(update={"metrics": []}), 2, cycle=1)
    reporting = next(s for s, w in works.items() if w.groups)
    others = [g for s, w in works.items() if s != reporting for g in w.groups]
    part = restrict(base, works[reporting].groups)
    proposal = ShardProposal(1, reporting, works[reporting].groups, proposals=propose(part, NOW))
    plan = finalize_cycle(base.model_copy(update={"metrics": []}), [proposal], others, NOW)
    assert len(plan.decisions) == len(base.variant_autoscalings)
    held_models = {g.model_id for g in others}
    for d in plan.decisions:
        if d.model_id in held_models:
            assert d.held and d.desired_replicas == d.current_replicas == 1
        else:
            assert not d.held
    assert any(d.desired_replicas == 2 for d in plan.decisions if d.model_id not in held_models)


def test_finalize_with_no_proposals_holds_everything() -> None:
    base = _snapshot(models=2).model_copy(update={"metrics": [], "metrics_error": None})
    plan = finalize_cycle(base, [], model_groups(base), NOW)
    assert all(d.held for d in plan.decisions) and len(plan.decisions) == 4


def test_metrics_rows_of_unknown_pods_are_not_carried() -> None:
    snap = _snapshot(models=1)
    stray = PodMetrics(namespace="ns0", model_name="m0", pod="ghost", kv_cache_usage=1.0, queue_length=50)
    part = restrict(snap.model_copy(update={"metrics": [*snap.metrics, stray]}), model_groups(snap))
    assert "ghost" in {m.pod for m in part.metrics}  # rows are kept; the core drops pods not listed
    assert "ghost" not in {p.name for p in part.pods}


def test_shard_memory_refills_the_state_of_a_restarted_coordinator() -> None:
    snap = _snapshot(models=2)
    work = split(snap, 1, 1)[0]  # the coordinator's state is empty (just restarted)
    remembered = DecisionState(capacity_history={"m0|H100|<100": [5.0], "other|H100|<100": [9.0]})
    carried = carry_state(work, remembered)
    assert carried.snapshot.state.capacity_history == {"m0|H100|<100": [5.0]}  # only its own models
    fresher = split(snap.model_copy(update={"state": DecisionState(capacity_history={"m0|H100|<100": [6.0]})}), 1, 2)
    assert carry_state(fresher[0], remembered).snapshot.state.capacity_history == {"m0|H100|<100": [6.0]}
    assert carry_state(work, DecisionState()) is work


def test_slo_state_is_routed_to_the_owning_shard_and_merged_back() -> None:
    state = DecisionState(slo={"a/m1": {"x": 1}, "b/m2": {"x": 2}})
    assert state_for(state, [ModelGroupRef("a", "m1")]).slo == {"a/m1": {"x": 1}}
    merged = merge_state(state, [([ModelGroupRef("a", "m1")], DecisionState(slo={"a/m1": {"x": 3}, "b/m2": {"x": 0}}))])
    assert merged.slo == {"a/m1": {"x": 3}, "b/m2": {"x": 2}}
