"""Compact transport of shard work and proposals between the coordinator and shard actors. No I/O.

Unpickling a VariantAutoscaling with its status costs about a dozen pydantic objects; at 1,000 VAs a full
snapshot each way per cycle cost more than the decisions themselves. So, like an informer:
- coordinator -> shard: every VA is sent once per (shard incarnation, resourceVersion); afterwards only its
  `(key, resourceVersion)` reference travels and the shard takes the object from its cache (`ShardVaCache`).
  A restarted shard has a new incarnation and gets everything again; a reference it cannot resolve raises
  `CacheMiss` and makes it start a new incarnation.
- shard -> coordinator: the VA objects inside the proposals' drafts are replaced by one stub before sending
  (`compact_proposal`) and put back from the coordinator's own snapshot on receipt (`restore_proposal`).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field

from wva_ray.api.va import ObjectMeta, ScaleTargetRef, VariantAutoscaling, VariantAutoscalingSpec
from wva_ray.runtime.cycle import ShardProposal, ShardWork


class CacheMiss(LookupError):
    """A VA reference the shard cannot resolve (its cache is behind): it must resynchronise."""


@dataclass(frozen=True)
class WorkWire:
    work: ShardWork  # its snapshot carries no VAs
    vas: tuple[VariantAutoscaling, ...]  # objects the shard does not have yet
    refs: tuple[tuple[str, str], ...]  # (key, resourceVersion) of every VA, in snapshot order
    incarnation: str  # the shard incarnation this encoding was made for


def _rv(va: VariantAutoscaling) -> str:
    return va.metadata.resource_version or ""


@dataclass
class SentVas:
    """Coordinator side, per shard: which VA versions that shard incarnation already holds."""

    incarnation: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    def encode(self, work: ShardWork, incarnation: str) -> WorkWire:
        if incarnation != self.incarnation:
            self.incarnation, self.versions = incarnation, {}
        vas = work.snapshot.variant_autoscalings
        fresh = tuple(va for va in vas if self.versions.get(va.key) != _rv(va) or not _rv(va))
        self.versions = {va.key: _rv(va) for va in vas}
        refs = tuple((va.key, _rv(va)) for va in vas)
        bare = dataclasses.replace(work, snapshot=work.snapshot.model_copy(update={"variant_autoscalings": []}))
        return WorkWire(bare, fresh, refs, incarnation)


@dataclass
class ShardVaCache:
    """Shard side: the VAs received so far, by key, for one incarnation."""

    incarnation: str = field(default_factory=lambda: uuid.uuid4().hex)
    vas: dict[str, VariantAutoscaling] = field(default_factory=dict)

    def reset(self) -> None:
        self.incarnation = uuid.uuid4().hex
        self.vas = {}

    def decode(self, wire: WorkWire) -> ShardWork:
        if wire.incarnation != self.incarnation:
            raise CacheMiss(f"work encoded for incarnation {wire.incarnation}, this is {self.incarnation}")
        for fresh in wire.vas:
            self.vas[fresh.key] = fresh
        out: list[VariantAutoscaling] = []
        for key, rv in wire.refs:
            cached = self.vas.get(key)
            if cached is None or _rv(cached) != rv:
                raise CacheMiss(f"va={key} resourceVersion {rv!r} not in the shard cache")
            out.append(cached)
        live = {key for key, _ in wire.refs}
        for key in [k for k in self.vas if k not in live]:
            del self.vas[key]
        w = wire.work
        return ShardWork(
            w.cycle, w.shard, w.groups, w.snapshot.model_copy(update={"variant_autoscalings": out}), w.epoch
        )


def _stub() -> VariantAutoscaling:
    return VariantAutoscaling(
        metadata=ObjectMeta(name="stub"),
        spec=VariantAutoscalingSpec(scale_target_ref=ScaleTargetRef(kind="Stub", name="stub"), model_id="stub"),
    )


def compact_proposal(proposal: ShardProposal) -> ShardProposal:
    """Replace the VA objects in the drafts by one shared stub (mutates the shard's own copy)."""
    if proposal.proposals is None:
        return proposal
    stub = _stub()
    for draft in proposal.proposals.drafts:
        draft.variant.va = stub
    return proposal


def restore_proposal(proposal: ShardProposal, work: ShardWork) -> ShardProposal:
    """Put the VA objects back from the coordinator's copy of the shard's work."""
    if proposal.proposals is None:
        return proposal
    by_key = {va.key: va for va in work.snapshot.variant_autoscalings}
    for draft in proposal.proposals.drafts:
        va = by_key.get(draft.variant.key)
        if va is None:
            raise CacheMiss(f"proposal for unknown va={draft.variant.key}")
        draft.variant.va = va
    return proposal
