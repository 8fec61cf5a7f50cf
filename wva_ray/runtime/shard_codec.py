"""Compact transport of shard work and proposals between the coordinator and shard actors. No I/O.

Unpickling a VariantAutoscaling with its status costs about a dozen pydantic objects; at 1,000 VAs a full
snapshot each way per cycle cost more than the decisions themselves. So, like an informer:
- coordinator -> shard: every VA is sent once per (shard incarnation, resourceVersion); afterwards only its
  `(key, resourceVersion)` reference travels and the shard takes the object from its cache (`ShardVaCache`).
  A restarted shard has a new incarnation and gets everything again; a reference it cannot resolve raises
  `CacheMiss` and makes it start a new incarnation.
  Scale targets and pods travel the same way, as plain rows (tuples, cheap to pickle) and only when they
  changed since that incarnation last got them; the shard keeps the objects.
- shard -> coordinator: a proposal travels as a delta of plain rows (`ProposalEncoder` / `ProposalMirror`):
  one tuple per draft, sent only when it differs from the row the coordinator last accepted from that shard;
  the coordinator rebuilds only the changed drafts (with its own VA objects) and reuses the others. A new
  coordinator epoch, a shard restart or a refused base makes the next proposal a full one. The source's query
  timings (plain tuples) ride along until a proposal carrying them is accepted, so a late or refused proposal's
  timed calls are counted with the next one (at most `UNSENT_TIMINGS_MAX` are kept).
  (`compact_proposal` / `restore_proposal`: the older whole-proposal form, VA objects replaced by a stub.)

Measured (benchmarks/scale_cycle.py, results in benchmarks/results/scale_cycle*.json): at 10,000 VAs the
steady-state work went from about 3.2 MB to a few hundred kB per cycle and the proposal from about 4.6 MB to
the changed groups' rows only.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from wva_ray.api.snapshot import Pod, ScaleTarget
from wva_ray.api.va import ObjectMeta, ScaleTargetRef, VariantAutoscaling, VariantAutoscalingSpec
from wva_ray.core.decide import Draft
from wva_ray.core.ports import QueryTiming
from wva_ray.core.variants import Hold, PodSignal, Variant
from wva_ray.runtime.cycle import ShardProposal, ShardWork
from wva_ray.runtime.gc_pause import gc_paused


class CacheMiss(LookupError):
    """A VA reference the shard cannot resolve (its cache is behind): it must resynchronise."""


@dataclass(frozen=True)
class WorkWire:
    work: ShardWork  # its snapshot carries no VAs, scale targets or pods
    vas: tuple[VariantAutoscaling, ...]  # objects the shard does not have yet
    refs: tuple[tuple[str, str], ...]  # (key, resourceVersion) of every VA, in snapshot order
    incarnation: str  # the shard incarnation this encoding was made for
    targets: RowDelta | None = None  # scale targets (None: the snapshot carries them itself)
    pods: RowDelta | None = None


Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowDelta:
    """Rows that changed since the receiver last got them, the keys that went away, and the new total."""

    changed: tuple[Row, ...]
    removed: tuple[Any, ...]
    count: int


_TARGET_FIELDS = tuple(ScaleTarget.model_fields)
_POD_FIELDS = tuple(Pod.model_fields)


def _model_row(obj: ScaleTarget | Pod) -> Row:
    return tuple(obj.__dict__.values())


def _target_key(row: Row) -> Any:
    return (
        row[_TARGET_FIELDS.index("namespace")],
        row[_TARGET_FIELDS.index("kind")],
        row[_TARGET_FIELDS.index("name")],
    )


def _pod_key(row: Row) -> Any:
    return (row[_POD_FIELDS.index("namespace")], row[_POD_FIELDS.index("name")])


@dataclass
class _RowSender:
    """Sender side of one row stream: the rows the receiver holds, by key."""

    key: Callable[[Row], Any]
    held: dict[Any, Row] = field(default_factory=dict)

    def delta(self, rows: Iterable[Row]) -> RowDelta:
        current = {self.key(r): r for r in rows}
        changed = tuple(r for k, r in current.items() if self.held.get(k) != r)
        removed = tuple(k for k in self.held if k not in current)
        self.held = current
        return RowDelta(changed, removed, len(current))


@dataclass
class _RowCache:
    """Receiver side: the objects built from the rows received so far, by key."""

    key: Callable[[Row], Any]
    build: Callable[[Row], Any]
    objects: dict[Any, Any] = field(default_factory=dict)

    def apply(self, delta: RowDelta, what: str) -> list[Any]:
        for k in delta.removed:
            self.objects.pop(k, None)
        for row in delta.changed:
            self.objects[self.key(row)] = self.build(row)
        if len(self.objects) != delta.count:
            raise CacheMiss(f"{what}: {len(self.objects)} cached, the sender has {delta.count}")
        return list(self.objects.values())


def _build_target(row: Row) -> ScaleTarget:
    return ScaleTarget.model_construct(**dict(zip(_TARGET_FIELDS, row, strict=True)))


def _build_pod(row: Row) -> Pod:
    return Pod.model_construct(**dict(zip(_POD_FIELDS, row, strict=True)))


def _rv(va: VariantAutoscaling) -> str:
    return va.metadata.resource_version or ""


@dataclass
class SentVas:
    """Coordinator side, per shard: which VA versions that shard incarnation already holds."""

    incarnation: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    targets: _RowSender = field(default_factory=lambda: _RowSender(_target_key))
    pods: _RowSender = field(default_factory=lambda: _RowSender(_pod_key))

    def encode(self, work: ShardWork, incarnation: str) -> WorkWire:
        if incarnation != self.incarnation:
            self.incarnation, self.versions = incarnation, {}
            self.targets, self.pods = _RowSender(_target_key), _RowSender(_pod_key)
        snap = work.snapshot
        vas = snap.variant_autoscalings
        fresh = tuple(va for va in vas if self.versions.get(va.key) != _rv(va) or not _rv(va))
        self.versions = {va.key: _rv(va) for va in vas}
        refs = tuple((va.key, _rv(va)) for va in vas)
        targets = self.targets.delta(_model_row(t) for t in snap.scale_targets)
        pods = self.pods.delta(_model_row(p) for p in snap.pods)
        bare_snapshot = snap.model_copy(update={"variant_autoscalings": [], "scale_targets": [], "pods": []})
        return WorkWire(dataclasses.replace(work, snapshot=bare_snapshot), fresh, refs, incarnation, targets, pods)


@dataclass
class ShardVaCache:
    """Shard side: the VAs received so far, by key, for one incarnation."""

    incarnation: str = field(default_factory=lambda: uuid.uuid4().hex)
    vas: dict[str, VariantAutoscaling] = field(default_factory=dict)
    targets: _RowCache = field(default_factory=lambda: _RowCache(_target_key, _build_target))
    pods: _RowCache = field(default_factory=lambda: _RowCache(_pod_key, _build_pod))

    def reset(self) -> None:
        self.incarnation = uuid.uuid4().hex
        self.vas = {}
        self.targets = _RowCache(_target_key, _build_target)
        self.pods = _RowCache(_pod_key, _build_pod)

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
        update: dict[str, Any] = {"variant_autoscalings": out}
        if wire.targets is not None:
            update["scale_targets"] = self.targets.apply(wire.targets, "scale targets")
        if wire.pods is not None:
            update["pods"] = self.pods.apply(wire.pods, "pods")
        return ShardWork(w.cycle, w.shard, w.groups, w.snapshot.model_copy(update=update), w.epoch, w.endpoints)


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


# ---- proposals as deltas of plain rows ---------------------------------------------------------------------
_DRAFT_FIELDS = tuple(f.name for f in dataclasses.fields(Draft) if f.name != "variant")
_VARIANT_FIELDS = tuple(f.name for f in dataclasses.fields(Variant) if f.name not in ("va", "key"))
_ELEMENTS: dict[str, type[Any]] = {"signals": PodSignal, "holds": Hold}  # list fields of frozen dataclasses
_DRAFT_GET = attrgetter(*_DRAFT_FIELDS)
_VARIANT_GET = attrgetter(*_VARIANT_FIELDS)
_NESTED = tuple((_VARIANT_FIELDS.index(n), cls, attrgetter(*cls.__slots__)) for n, cls in _ELEMENTS.items())


def draft_row(d: Draft) -> Row:
    """One draft as tuples of plain values (its VA object left out: the coordinator has it). Plain lists
    (steps, notes) stay lists; lists of small frozen dataclasses (signals, holds) become tuples of tuples."""
    variant = list(_VARIANT_GET(d.variant))
    for i, cls, get in _NESTED:
        variant[i] = tuple(get(x) if type(x) is cls else x for x in variant[i])
    return (_DRAFT_GET(d), tuple(variant))


def draft_from_row(row: Row, va: VariantAutoscaling) -> Draft:
    draft_values, variant_values = row
    values = list(variant_values)
    for i, cls, _ in _NESTED:
        values[i] = [cls(*x) if type(x) is tuple else x for x in values[i]]
    variant = Variant(va, **dict(zip(_VARIANT_FIELDS, values, strict=True)))
    return Draft(variant, **dict(zip(_DRAFT_FIELDS, draft_values, strict=True)))


@dataclass(frozen=True)
class ProposalWire:
    """A shard's proposal on the wire: the proposal without drafts, plus the draft rows that changed since the
    proposal `base` (the last one the coordinator accepted from this shard; "" = this is a full proposal)."""

    proposal: ShardProposal  # `proposals.drafts` is empty; None proposals: the shard failed
    base: str
    id: str
    changed: tuple[tuple[str, Row], ...]  # (VA key, row)
    removed: tuple[str, ...]
    count: int


UNSENT_TIMINGS_MAX = 1_000  # about 200 cycles of one shard's timed calls; the oldest go first


@dataclass
class ProposalEncoder:
    """Shard side: what the coordinator of `epoch` has accepted from this shard (rows by VA key), and the query
    timings it has not accepted yet."""

    epoch: str = ""
    acked_id: str = ""
    acked: dict[str, Row] = field(default_factory=dict)
    _pending: tuple[str, dict[str, Row]] | None = None
    unsent: tuple[QueryTiming, ...] = ()  # kept across `reset`: only an accepted proposal counted them

    def reset(self) -> None:
        self.acked_id, self.acked, self._pending = "", {}, None

    def encode(self, proposal: ShardProposal) -> ProposalWire:
        if proposal.epoch != self.epoch:
            self.epoch = proposal.epoch
            self.reset()
        wire_id = uuid.uuid4().hex
        self.unsent = (*self.unsent, *proposal.query_timings)[-UNSENT_TIMINGS_MAX:]
        proposal = dataclasses.replace(proposal, query_timings=self.unsent)
        if proposal.proposals is None:
            self._pending = None
            return ProposalWire(dataclasses.replace(proposal, groups=()), self.acked_id, wire_id, (), (), 0)
        with gc_paused():  # tens of thousands of small tuples: the cyclic GC would scan the heap many times
            rows = {d.variant.key: draft_row(d) for d in proposal.proposals.drafts}
        changed = tuple((k, r) for k, r in rows.items() if self.acked.get(k) != r)
        removed = tuple(k for k in self.acked if k not in rows)
        self._pending = (wire_id, rows)
        bare = dataclasses.replace(proposal, groups=(), proposals=dataclasses.replace(proposal.proposals, drafts=[]))
        return ProposalWire(bare, self.acked_id, wire_id, changed, removed, len(rows))

    def settled(self, accepted: bool | str) -> None:
        """The coordinator's answer to the last `encode`: True (applied), False (late: nothing applied), or
        "resync" (it does not hold our base: send everything next time)."""
        if accepted == "resync":
            self.reset()
        elif accepted is True:
            self.unsent = ()
            if self._pending is not None:
                self.acked_id, self.acked = self._pending
        self._pending = None


@dataclass
class ProposalMirror:
    """Coordinator side, per shard: the drafts accepted so far (row and rebuilt Draft by VA key)."""

    id: str = ""
    drafts: dict[str, tuple[Row, Draft]] = field(default_factory=dict)

    def applies(self, wire: ProposalWire) -> bool:
        return wire.base == "" or wire.base == self.id

    def decode(self, wire: ProposalWire, work: ShardWork) -> ShardProposal:
        """The full proposal (drafts rebuilt where they changed); raises CacheMiss when the base is not ours
        (nothing is changed then)."""
        if not self.applies(wire):
            raise CacheMiss(f"proposal base {wire.base!r} is not the accepted {self.id!r}")
        proposals = wire.proposal.proposals
        if proposals is None:
            return dataclasses.replace(wire.proposal, groups=work.groups)
        by_key = {va.key: va for va in work.snapshot.variant_autoscalings}
        drafts = {} if wire.base == "" else dict(self.drafts)
        for key in wire.removed:
            drafts.pop(key, None)
        with gc_paused():
            for key, row in wire.changed:
                va = by_key.get(key)
                if va is None:
                    raise CacheMiss(f"proposal for unknown va={key}")
                drafts[key] = (row, draft_from_row(row, va))
        if len(drafts) != wire.count:
            raise CacheMiss(f"{len(drafts)} drafts after the delta, the shard has {wire.count}")
        out = []
        for key, (_row, draft) in drafts.items():
            va = by_key.get(key)
            if va is None:
                raise CacheMiss(f"proposal for unknown va={key}")
            if draft.variant.va is not va:
                draft.variant.va = va  # same row, newer VA object (e.g. its status was written)
            out.append(draft)
        self.id, self.drafts = wire.id, drafts
        full = dataclasses.replace(proposals, drafts=out)
        return dataclasses.replace(wire.proposal, groups=work.groups, proposals=full)
