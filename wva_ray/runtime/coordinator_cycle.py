"""The coordinator's cycle, independent of Ray: observe -> split into shard work -> (shards propose) ->
global allocation -> publish. Does I/O only through the `ClusterView` and publishers it is given.

Used by the Ray coordinator actor (`runtime.coordinator_actor`) and by the `--no-ray` driver (`runtime.local`).
Publishing is shielded from cancellation, so a shutdown never leaves a half-published plan: every publisher sees
the whole plan or none of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import DecisionState, Snapshot
from wva_ray.core.annotated import expand
from wva_ray.core.ports import Clock, DecisionPublisher, ModelGroupRef
from wva_ray.core.reminder import Reminder, Say
from wva_ray.core.sharding import LateAnswer, late_metrics_errors
from wva_ray.runtime.cycle import ScrapeEndpoint, ShardProposal, ShardWork, finalize_cycle, missing_shards, split
from wva_ray.runtime.gc_pause import CycleCollector

log = logging.getLogger(__name__)


class ClusterView(Protocol):
    """The cluster state without metrics (VAs with their status, targets, pods, ConfigMaps, GPU inventory)."""

    async def observe(self, now: datetime) -> Snapshot: ...


class WarningsView(Protocol):
    """Optional: a view that can tell the cluster about configuration problems (Kubernetes Events)."""

    async def report_warnings(self, warnings: Sequence[str], now: datetime) -> None: ...


class EndpointView(Protocol):
    """Optional: a view that can also say where each live pod's `/metrics` is (direct-scrape mode)."""

    async def scrape_endpoints(self) -> list[ScrapeEndpoint]: ...


@dataclass(frozen=True)
class CycleReport:
    """What one finished cycle did (for logs, health, tests and the demo)."""

    epoch: str
    cycle: int
    now: datetime
    plan: Plan
    missing_shards: tuple[int, ...]
    duration_s: float
    shard_durations_s: Mapping[int, float]
    phases_s: Mapping[str, float]  # observe, shards (waiting for proposals), allocate, publish


@dataclass
class _OpenCycle:
    cycle: int
    now: datetime
    base: Snapshot
    works: dict[int, ShardWork]
    started_s: float
    observed_s: float


class CycleCore:
    """One coordinator's cycles. Not thread-safe; owned by one event loop."""

    def __init__(
        self,
        view: ClusterView,
        publishers: Sequence[DecisionPublisher],
        shards: int,
        clock: Clock,
        gauges: GaugeExporter | None = None,
        scrape: bool = False,
        collector: CycleCollector | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.view = view
        self.publishers = list(publishers)
        self.shards = shards
        self.clock = clock
        self.gauges = gauges
        self.scrape = scrape  # ask the view for scrape endpoints and hand them to the shards
        self.epoch = uuid.uuid4().hex[:12]
        self._cycle = 0
        self._state = DecisionState()
        self._open: _OpenCycle | None = None
        self.last_report: CycleReport | None = None
        self._warned: tuple[str, ...] = ()
        self._late: dict[int, LateAnswer] = {}  # shard -> its last late answer that met a metrics error
        self._late_said = Reminder()  # late shards: logged when the set changes and every 5 min, not per cycle
        self.collector = collector  # the process's cyclic-GC policy between cycles (None: CPython's default)

    @property
    def current(self) -> _OpenCycle | None:
        return self._open

    async def open(self) -> dict[int, ShardWork]:
        """Observe the cluster and split it into this cycle's shard work."""
        now = self.clock.now()
        started = time.perf_counter()
        base = await self.view.observe(now)
        base = base.model_copy(update={"now": now, "state": self._state})
        # the core split expands annotated scalers itself (shards see plain VAs) and keeps their discovery warnings;
        # here only the pod-attribution misses are counted
        _, found = expand(base)
        if self.gauges is not None and found.misses:
            self.gauges.count_pod_mapping_misses([(m.namespace, m.reason) for m in found.misses])
        self._cycle += 1
        endpoints: list[ScrapeEndpoint] = []
        if self.scrape and hasattr(self.view, "scrape_endpoints"):
            endpoints = await self.view.scrape_endpoints()
        works = split(base, self.shards, self._cycle, endpoints)
        works = {s: dataclasses.replace(w, epoch=self.epoch) for s, w in works.items()}
        self._open = _OpenCycle(self._cycle, now, base, works, started, time.perf_counter())
        return works

    def accepts(self, proposal: ShardProposal) -> bool:
        """True when `proposal` answers the open cycle of this epoch."""
        o = self._open
        return (
            o is not None and proposal.epoch == self.epoch and proposal.cycle == o.cycle and proposal.shard in o.works
        )

    def note_late(self, proposal: ShardProposal) -> None:
        """A proposal refused for missing its cycle: remember what it said of its metrics source, so that the
        shard's groups, held while it stays late, say that the source failed (`core.sharding.late_metrics_errors`);
        an answer in time or without a metrics error forgets it."""
        if proposal.epoch != self.epoch:
            return
        if proposal.metrics_error:
            self._late[proposal.shard] = LateAnswer(proposal.cycle, proposal.metrics_error)
        else:
            self._late.pop(proposal.shard, None)

    async def close(self, proposals: Mapping[int, ShardProposal]) -> CycleReport:
        """Global allocation over the proposals received, then publish (shielded from cancellation)."""
        o = self._open
        if o is None:
            raise RuntimeError("close() without an open cycle")
        # an answer counts when it carries proposals, or when the shard owns no group (nothing to propose)
        valid = {
            s: p
            for s, p in proposals.items()
            if p.cycle == o.cycle and (p.proposals is not None or not o.works[s].groups)
        }
        late = missing_shards(o.works, valid)
        for s in valid:
            self._late.pop(s, None)
        held_groups: list[ModelGroupRef] = [g for s in late for g in o.works[s].groups]
        why = late_metrics_errors({s: o.works[s].groups for s in late}, self._late, o.cycle)
        closing = time.perf_counter()
        plan = finalize_cycle(o.base, list(valid.values()), held_groups, o.now, why)
        allocated = time.perf_counter()
        await asyncio.shield(self._publish(plan, o.now))
        published = time.perf_counter()
        phases = {
            "observe": o.observed_s - o.started_s,
            "shards": closing - o.observed_s,
            "allocate": allocated - closing,
            "publish": published - allocated,
        }
        self._state = plan.state
        duration = time.perf_counter() - o.started_s
        report = CycleReport(
            self.epoch,
            o.cycle,
            o.now,
            plan,
            tuple(late),
            duration,
            {s: p.duration_s for s, p in proposals.items()},
            phases,
        )
        if self.gauges is not None:
            self.gauges.observe_cycle(duration)
            # every answer received counts its timed queries, a failed shard's too (they reached Prometheus)
            self.gauges.observe_query_timings([t for p in proposals.values() for t in p.query_timings])
            for s in o.works:
                self.gauges.set_shard_lag(s, 0.0 if s in valid else duration)
        said = self._late_said.observe(tuple(late) or None, time.monotonic())
        if said is Say.STARTED:
            log.warning("shards %s late (cycle %d); their groups hold", late, o.cycle)
        elif said is Say.STILL:
            log.warning(
                "shards %s still late (cycle %d, since %.0f s); their groups hold",
                late,
                o.cycle,
                time.monotonic() - self._late_said.since_s,
            )
        elif said is Say.ENDED:
            log.info("every shard answered cycle %d", o.cycle)
        await self._report_warnings(plan, o.now)
        self.last_report = report
        self._open = None
        if self.collector is not None:  # after the cycle's timing: its periodic full collection is between cycles
            self.collector.after_cycle()
        return report

    async def _report_warnings(self, plan: Plan, now: datetime) -> None:
        """Configuration warnings (bad ConfigMap entries, ...): logged and reported when the set changes."""
        warnings = tuple(plan.warnings)
        if warnings == self._warned:
            return
        new = [w for w in warnings if w not in self._warned]
        self._warned = warnings
        for w in new:
            log.warning("configuration: %s", w)
        if new and hasattr(self.view, "report_warnings"):
            try:
                await self.view.report_warnings(new, now)
            except Exception as exc:  # best effort, like every Event
                log.warning("configuration warnings not reported: %s", exc)

    async def _publish(self, plan: Plan, now: datetime) -> None:
        for publisher in self.publishers:
            await publisher.publish(plan.decisions, now)
        if self.gauges is not None:
            await self.gauges.publish(plan.decisions, now)
