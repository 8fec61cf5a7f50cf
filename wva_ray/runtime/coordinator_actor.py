"""The coordinator Ray actor: the only writer. Does I/O (Ray calls, the adapters built by its wiring, an HTTP
server for its gauges).

It starts its own cycle loop on construction, so a restarted coordinator (max_restarts=-1) resumes by itself:
its first cycle runs at once and reads the VAs' status, so decisions continue from the published values without
a jump. Each cycle it observes the cluster, hands each shard its work (shards long-poll `next_work`), waits for
proposals until the deadline (a late or dead shard's groups hold), runs global allocation and publishes through
its publishers and gauges. Health metrics also go to the Ray dashboard through `ray.util.metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import ray
from prometheus_client.metrics_core import Metric
from ray.util import metrics as ray_metrics

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Plan
from wva_ray.runtime.actor_logging import configure_actor_logging
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.cycle import ShardProposal, ShardWork
from wva_ray.runtime.gc_pause import CycleCollector
from wva_ray.runtime.loop import cycle_loop
from wva_ray.runtime.shard_codec import CacheMiss, ProposalMirror, ProposalWire, SentVas, WorkWire, restore_proposal
from wva_ray.runtime.wiring import Wiring

log = logging.getLogger(__name__)

NAMESPACE = "wva"
COORDINATOR_NAME = "wva-coordinator"


@dataclass(frozen=True, slots=True)
class CoordinatorOptions:
    shards: int
    interval_s: float
    deadline_s: float
    metrics_port: int | None = None  # None: no HTTP server (tests); 0: any free port
    metrics_address: str = "127.0.0.1"
    controller_instance: str | None = None
    scrape: bool = False  # direct-scrape mode: hand the shards their pods' endpoints
    head_resource: str | None = None  # custom Ray resource the coordinator requests a fraction of (pinning)
    log_level: str | None = None  # the actors log at this level (`actor_logging`); None: as Ray left it


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """A finished cycle in plain data (what `summary()` returns)."""

    epoch: str
    cycle: int
    at: str
    desired: dict[str, int]
    held: tuple[str, ...]
    missing_shards: tuple[int, ...]
    duration_s: float
    phases_s: dict[str, float]
    shard_durations_s: dict[int, float]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the driver polls (`heartbeat`): this coordinator's epoch (new with each restart), how many cycles
    finished (published or failed), the last failure, and the summaries of the published cycles it has not seen."""

    epoch: str
    attempts: int
    last_error: str | None
    summaries: tuple[CycleSummary, ...]


def summarize(report: CycleReport) -> CycleSummary:
    return CycleSummary(
        report.epoch,
        report.cycle,
        report.now.isoformat(),
        {d.key: d.desired_replicas for d in report.plan.decisions},
        tuple(d.key for d in report.plan.decisions if d.held),
        report.missing_shards,
        report.duration_s,
        dict(report.phases_s),
        dict(report.shard_durations_s),
    )


class _RayHealth:
    """Health metrics for the Ray dashboard (exported by Ray's metrics agent)."""

    def __init__(self) -> None:
        self.cycle = ray_metrics.Histogram(
            "wva_cycle_duration_s", "Decision cycle duration", boundaries=[0.05, 0.1, 0.5, 1, 2, 5, 10, 30]
        )
        self.lag = ray_metrics.Gauge("wva_shard_lag_s", "Shard lag at publish", tag_keys=("shard",))
        self.errors = ray_metrics.Counter("wva_cycle_errors", "Failed cycles")
        self.held = ray_metrics.Gauge("wva_held_variants", "Variants held this cycle")


@ray.remote(num_cpus=0, max_restarts=-1)
class CoordinatorActor:
    def __init__(self, wiring: Wiring, options: CoordinatorOptions) -> None:
        self.opts = options
        configure_actor_logging(options.log_level, COORDINATOR_NAME)
        self.gauges = GaugeExporter(options.controller_instance, interval_s=options.interval_s)
        self.metrics_port: int | None = None
        if options.metrics_port is not None:
            self.metrics_port = self.gauges.serve(options.metrics_port, options.metrics_address)
        self.core = CycleCore(
            wiring.cluster_view(),
            wiring.publishers(),
            options.shards,
            wiring.clock(),
            self.gauges,
            scrape=options.scrape,
            collector=CycleCollector(),  # the actor's process runs only this core
        )
        self.health = _RayHealth()
        self._works: dict[int, ShardWork] = {}
        self._proposals: dict[int, ShardProposal] = {}
        self._sent: dict[int, SentVas] = {}
        self._mirrors: dict[int, ProposalMirror] = {}
        self._changed = asyncio.Condition()
        self._all_in = asyncio.Event()
        self._stop = asyncio.Event()
        self._summaries: deque[CycleSummary] = deque(maxlen=256)
        self._last_plan: Plan | None = None
        self._last_plan_at_s: float | None = None
        self._attempts = 0
        self._last_error: str | None = None
        self._task = asyncio.get_event_loop().create_task(self._run())
        log.info(
            "started: %d shards, interval %.1f s, proposal deadline %.1f s",
            options.shards,
            options.interval_s,
            options.deadline_s,
        )

    async def _run(self) -> None:
        await cycle_loop(self._run_once, self.opts.interval_s, self._stop, on_result=self._done, on_error=self._error)

    def _done(self, report: CycleReport) -> None:
        self._attempts += 1
        self._last_error = None

    def _error(self, exc: BaseException, attempt: int) -> None:
        self._attempts += 1
        self._last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.gauges.count_error(type(exc).__name__)
        self.health.errors.inc()

    async def _run_once(self) -> CycleReport:
        works = await self.core.open()
        self._proposals = {}
        self._all_in = asyncio.Event()
        async with self._changed:
            self._works = works
            self._changed.notify_all()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), self.opts.deadline_s)
        async with self._changed:
            self._works = {}
        report = await self.core.close(dict(self._proposals))
        self._last_plan = report.plan
        self._last_plan_at_s = time.time()
        self._summaries.append(summarize(report))
        self.health.cycle.observe(report.duration_s)
        self.health.held.set(sum(1 for d in report.plan.decisions if d.held))
        for s in range(self.opts.shards):
            self.health.lag.set(report.duration_s if s in report.missing_shards else 0.0, tags={"shard": str(s)})
        return report

    def _pending_work(self, shard: int, epoch: str, cycle: int) -> ShardWork | None:
        work = self._works.get(shard)
        if work is None or shard in self._proposals:
            return None
        if work.epoch == epoch and work.cycle <= cycle:
            return None
        return work

    async def next_work(
        self, shard: int, epoch: str, cycle: int, timeout_s: float, incarnation: str
    ) -> WorkWire | None:
        """Long-poll: the open cycle's work for `shard` once it is newer than (epoch, cycle), encoded for the
        shard's VA cache (`shard_codec`); None on timeout."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._pending_work(shard, epoch, cycle) is not None), timeout_s
                )
            except TimeoutError:
                return None
            work = self._pending_work(shard, epoch, cycle)
            if work is None:
                return None
            return self._sent.setdefault(shard, SentVas()).encode(work, incarnation)

    async def submit(self, proposal: ShardProposal | ProposalWire) -> bool | str:
        """Accept a proposal for the open cycle; False when it is late or from another coordinator epoch,
        "resync" when it is a delta over drafts this coordinator does not hold (the shard sends all next)."""
        inner = proposal.proposal if isinstance(proposal, ProposalWire) else proposal
        work = self._works.get(inner.shard)
        if not self.core.accepts(inner) or work is None:
            self.core.note_late(inner)  # its metrics error still tells why its groups hold
            return False
        if isinstance(proposal, ProposalWire):
            mirror = self._mirrors.setdefault(inner.shard, ProposalMirror())
            try:
                restored = mirror.decode(proposal, work)
            except CacheMiss as exc:
                log.warning("shard=%d proposal refused, resynchronising: %s", inner.shard, exc)
                self._mirrors[inner.shard] = ProposalMirror()
                return "resync"
        else:
            restored = restore_proposal(proposal, work)
        self._proposals[inner.shard] = restored
        if len(self._proposals) == len(self._works):
            self._all_in.set()
        return True

    async def summaries(self, after_cycle: int = 0) -> list[CycleSummary]:
        return [s for s in self._summaries if s.cycle > after_cycle]

    async def heartbeat(self, epoch: str, after_cycle: int) -> Heartbeat:
        """Progress since (epoch, after_cycle) of the caller: every summary when `epoch` is not this
        coordinator's (the caller last saw an earlier incarnation)."""
        after = after_cycle if epoch == self.core.epoch else 0
        return Heartbeat(
            self.core.epoch, self._attempts, self._last_error, tuple(s for s in self._summaries if s.cycle > after)
        )

    async def families(self) -> list[Metric]:
        """Every gauge family of this coordinator (decisions and health), for the driver to serve."""
        return self.gauges.families()

    async def last_plan(self) -> Plan | None:
        return self._last_plan

    async def get_target(self, app_name: str, deployment_name: str) -> dict[str, Any] | None:
        """The latest decision for a Ray Serve deployment (actuation mode `serve`; contract of
        `wva_ray.serve.coordinator_link`): the VA named like the deployment, preferring namespace == app.
        None when there is none or it is held; never raises."""
        plan, at = self._last_plan, self._last_plan_at_s
        if plan is None or at is None:
            return None
        matches = [d for d in plan.decisions if d.name == deployment_name and d.publish and not d.held]
        matches.sort(key=lambda d: d.namespace != app_name)
        if not matches:
            return None
        return {"desired_replicas": matches[0].desired_replicas, "decided_at_s": at}

    async def info(self) -> dict[str, Any]:
        import os

        return {
            "pid": os.getpid(),
            "epoch": self.core.epoch,
            "metrics_port": self.metrics_port,
            "resources": ray.get_runtime_context().get_assigned_resources(),  # type: ignore[no-untyped-call]
        }

    async def stop(self) -> None:
        """Finish the cycle in progress (a publish is never cut), then stop cycling."""
        self._stop.set()
        await self._task
        self.gauges.close()
