"""Compact shard transport: VAs travel once per resourceVersion; proposals travel without VA objects."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from wva_ray.core.decide import finalize, propose
from wva_ray.core.sharding import model_groups
from wva_ray.runtime.cycle import ShardProposal, split
from wva_ray.runtime.shard_codec import CacheMiss, SentVas, ShardVaCache, compact_proposal, restore_proposal
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _cluster() -> MemoryCluster:
    c = MemoryCluster(lambda: 0.0)
    for m in range(6):
        c.add_variant(VariantSpec(f"m{m}-h100", f"m{m}", "H100", namespace="llm"))
        c.set_load(f"m{m}", 0.5, 0.0)
    return c


def test_vas_travel_once_per_version_and_decode_to_the_same_snapshot() -> None:
    c = _cluster()
    work = split(c.observe(NOW), 1, 1)[0]
    sent, cache = SentVas(), ShardVaCache()
    first = pickle.loads(pickle.dumps(sent.encode(work, cache.incarnation)))
    assert len(first.vas) == 6
    assert cache.decode(first).snapshot == work.snapshot
    # a status write bumps one VA's resourceVersion: only that one travels again
    plan = finalize(propose(c.observe(NOW), NOW), None)
    c.write_status(plan.decisions[:1], NOW)
    work2 = split(c.observe(NOW), 1, 2)[0]
    second = pickle.loads(pickle.dumps(sent.encode(work2, cache.incarnation)))
    assert [va.key for va in second.vas] == [plan.decisions[0].key]
    assert cache.decode(second).snapshot == work2.snapshot


def test_a_new_incarnation_gets_everything_and_a_stale_one_is_refused() -> None:
    work = split(_cluster().observe(NOW), 1, 1)[0]
    sent, cache = SentVas(), ShardVaCache()
    cache.decode(sent.encode(work, cache.incarnation))
    old = cache.incarnation
    cache.reset()
    assert len(sent.encode(work, cache.incarnation).vas) == 6
    with pytest.raises(CacheMiss):
        cache.decode(SentVas().encode(work, old))


def test_reference_missing_from_cache_is_a_cache_miss() -> None:
    work = split(_cluster().observe(NOW), 1, 1)[0]
    sent, cache = SentVas(), ShardVaCache()
    sent.encode(work, cache.incarnation)  # the coordinator believes it was delivered; the shard never got it
    with pytest.raises(CacheMiss, match="not in the shard cache"):
        cache.decode(sent.encode(work, cache.incarnation))


def test_compacted_proposal_is_smaller_and_restores_to_the_same_plan() -> None:
    c = _cluster()
    c.set_load("m0", 0.95, 10.0)
    snap = c.observe(NOW)
    rows = c.scripted_pod_metrics(model_groups(snap))
    work = split(snap, 1, 1)[0]
    full = propose(snap.model_copy(update={"metrics": rows}), NOW)
    expected = finalize(full, None)
    p = ShardProposal(1, 0, work.groups, proposals=propose(snap.model_copy(update={"metrics": rows}), NOW))
    size_full = len(pickle.dumps(p))
    wire = pickle.dumps(compact_proposal(p))
    assert len(wire) < size_full
    restored = restore_proposal(pickle.loads(wire), work)
    assert restored.proposals is not None
    assert finalize(restored.proposals, None) == expected
