"""The data of one decision cycle as it crosses actor boundaries, and thin calls into `core.sharding`. No I/O.

A cycle: the coordinator observes the cluster (a `Snapshot` without metrics) and `split`s it into one
`ShardWork` per shard (`core.sharding.split`: rendezvous hashing of shard units); each shard collects its groups'
metrics and runs `wva_ray.core.propose`, returning a `ShardProposal`; the coordinator's `finalize_cycle` merges
them and runs global allocation (`core.sharding.finalize_shards`). The decision logic lives in the core; this
module adds what transport needs (cycle, epoch, scrape endpoints, timings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import DecisionState, Snapshot
from wva_ray.core import sharding
from wva_ray.core.ports import ModelGroupRef, QueryTiming
from wva_ray.core.proposals import Proposals
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
    groups are then held like those of a late shard). `query_timings`: the metrics source's timed calls (plain
    tuples, for the exporter's `wva_metrics_collection_*`; the core's merge ignores them).
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
    query_timings: tuple[QueryTiming, ...] = ()

    def result(self) -> sharding.ShardResult:
        """What the core's merge needs of this answer."""
        return sharding.ShardResult(self.groups, self.proposals, self.metrics_error)


def split(
    snapshot: Snapshot, shards: int, cycle: int, endpoints: Sequence[ScrapeEndpoint] = ()
) -> dict[int, ShardWork]:
    """One `ShardWork` per shard (shards with no group get empty work, so every shard reports each cycle)."""
    out = {}
    for s, part in sharding.split(snapshot, shards).items():
        wanted = {(g.namespace, g.model_id) for g in part.groups}
        mine = tuple(e for e in endpoints if (e.namespace, e.model_id) in wanted)
        out[s] = ShardWork(cycle, s, part.groups, part.snapshot, endpoints=mine)
    return out


def finalize_cycle(
    base: Snapshot,
    proposals: Sequence[ShardProposal],
    missing: Sequence[ModelGroupRef],
    now: datetime,
    missing_errors: Mapping[ModelGroupRef, str] | None = None,
) -> Plan:
    """Global allocation over every shard's proposals; the groups in `missing` (late, dead or failed shard) are
    held, with the metrics error of `missing_errors` when known (`core.sharding.finalize_shards`)."""
    with gc_paused():
        return sharding.finalize_shards(base, [p.result() for p in proposals], missing, now, missing_errors)


def carry_state(work: ShardWork, remembered: DecisionState) -> ShardWork:
    """The shard's work with the decision state it remembers filled in where the coordinator has none for its
    models (a restarted coordinator starts empty; the shards keep the V2 capacity history alive)."""
    if not remembered.capacity_history and not remembered.slo and not remembered.learned:
        return work
    mine = sharding.state_for(remembered, work.groups)
    current = work.snapshot.state
    merged = {**mine.capacity_history, **current.capacity_history}
    merged_slo = {**mine.slo, **current.slo}
    merged_learned = {**mine.learned, **current.learned}
    if merged == current.capacity_history and merged_slo == current.slo and merged_learned == current.learned:
        return work
    state = DecisionState(capacity_history=merged, slo=merged_slo, learned=merged_learned)
    return dataclasses.replace(work, snapshot=work.snapshot.model_copy(update={"state": state}))


def missing_shards(expected: Iterable[int], proposals: Mapping[int, ShardProposal]) -> list[int]:
    """Shards that did not report (late or dead) in this cycle."""
    return sorted(s for s in expected if s not in proposals)
