"""Proposals and work as deltas of plain rows (runtime.shard_codec): what arrives rebuilds the same plan, only
changed drafts travel, and every way of losing track (new epoch, shard restart, refused base) falls back to a
full message instead of a wrong one."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from wva_ray.core.decide import finalize, propose
from wva_ray.core.sharding import model_groups
from wva_ray.runtime.cycle import ShardProposal, ShardWork, split
from wva_ray.runtime.shard_codec import (
    CacheMiss,
    ProposalEncoder,
    ProposalMirror,
    ProposalWire,
    SentVas,
    ShardVaCache,
)
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _cluster(models: int = 6) -> MemoryCluster:
    c = MemoryCluster(lambda: 0.0)
    for m in range(models):
        for acc in ("H100", "L40S"):
            c.add_variant(VariantSpec(f"m{m}-{acc.lower()}", f"m{m}", acc, namespace="llm", max_replicas=5))
        c.set_load(f"m{m}", 0.5, 0.0)
    return c


def _proposal(c: MemoryCluster, work: ShardWork, now: datetime) -> ShardProposal:
    snap = work.snapshot.model_copy(update={"metrics": c.scripted_pod_metrics(work.groups), "now": now})
    return ShardProposal(work.cycle, work.shard, work.groups, proposals=propose(snap, now), epoch="e1")


def _roundtrip(wire: ProposalWire) -> ProposalWire:
    back: ProposalWire = pickle.loads(pickle.dumps(wire, protocol=5))
    return back


def test_only_changed_drafts_travel_and_the_plan_is_the_same_as_without_the_wire() -> None:
    c = _cluster()
    enc, mirror = ProposalEncoder(), ProposalMirror()
    for cycle in range(1, 5):
        now = NOW + timedelta(seconds=30 * cycle)
        if cycle == 3:
            c.set_load("m2", 0.95, 10.0)
        work = split(c.observe(now), 1, cycle)[0]
        proposal = _proposal(c, work, now)
        expected = finalize(_proposal(c, work, now).proposals, None)  # type: ignore[arg-type]
        wire = _roundtrip(enc.encode(proposal))
        if cycle == 1:
            assert wire.base == "" and len(wire.changed) == 12
        elif cycle == 3:
            assert {k for k, _ in wire.changed} >= {"llm/m2-h100", "llm/m2-l40s"}
            assert len(wire.changed) < 12
        restored = mirror.decode(wire, work)
        enc.settled(True)
        assert restored.groups == work.groups
        assert restored.proposals is not None
        assert finalize(restored.proposals, None) == expected
        c.write_status(expected.decisions, now)


def test_a_late_proposal_keeps_the_base_and_a_new_epoch_or_refused_base_sends_everything() -> None:
    c = _cluster()
    enc, mirror = ProposalEncoder(), ProposalMirror()
    work = split(c.observe(NOW), 1, 1)[0]
    mirror.decode(enc.encode(_proposal(c, work, NOW)), work)
    enc.settled(True)
    late = enc.encode(_proposal(c, work, NOW))
    enc.settled(False)  # the coordinator applied nothing
    assert late.changed == () and late.base == mirror.id
    again = enc.encode(_proposal(c, work, NOW))
    assert again.base == mirror.id  # still a delta over what the coordinator holds
    with pytest.raises(CacheMiss):
        ProposalMirror().decode(again, work)  # a coordinator without our base refuses it (nothing applied)
    enc.settled("resync")
    full = enc.encode(_proposal(c, work, NOW))
    assert full.base == "" and len(full.changed) == 12
    other_epoch = ShardProposal(1, 0, work.groups, proposals=_proposal(c, work, NOW).proposals, epoch="e2")
    assert enc.encode(other_epoch).base == ""


def test_a_failed_shard_proposal_travels_without_drafts() -> None:
    c = _cluster()
    work = split(c.observe(NOW), 1, 1)[0]
    wire = ProposalEncoder().encode(ShardProposal(1, 0, work.groups, epoch="e1", error="boom"))
    out = ProposalMirror().decode(_roundtrip(wire), work)
    assert out.proposals is None and out.error == "boom" and out.groups == work.groups


def test_targets_and_pods_travel_as_changed_rows_and_decode_to_the_same_snapshot() -> None:
    c = _cluster()
    sent, cache = SentVas(), ShardVaCache()
    work = split(c.observe(NOW), 2, 1)[0]
    first = pickle.loads(pickle.dumps(sent.encode(work, cache.incarnation)))
    assert first.targets is not None and len(first.targets.changed) == len(work.snapshot.scale_targets)
    assert cache.decode(first).snapshot == work.snapshot
    target = work.snapshot.scale_targets[0]
    c.scale(target.namespace, target.name, 3, ready_now=True)
    work2 = split(c.observe(NOW), 2, 2)[0]
    second = pickle.loads(pickle.dumps(sent.encode(work2, cache.incarnation)))
    assert second.targets is not None and second.pods is not None
    assert [r[3] for r in second.targets.changed] == [target.name]  # only the scaled target
    assert len(second.pods.changed) == 2  # its two new pods
    decoded = cache.decode(second).snapshot
    assert sorted(decoded.scale_targets, key=lambda t: t.name) == sorted(
        work2.snapshot.scale_targets, key=lambda t: t.name
    )
    assert sorted(decoded.pods, key=lambda p: p.name) == sorted(work2.snapshot.pods, key=lambda p: p.name)
    assert model_groups(decoded) == model_groups(work2.snapshot)
