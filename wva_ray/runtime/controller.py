"""The controller process of `wva-ray run`: leader election, the cycle (Ray actors or `--no-ray`), health
endpoints and metrics. Does I/O (Kubernetes, Prometheus, Ray, two HTTP servers).

Only the Lease holder runs cycles and writes; a standby instance waits, ready, and takes over when the Lease
expires or is released. Leadership is re-checked before every publish (`LeaderGate`), so an instance that lost
its Lease never writes. Stopping (SIGTERM) lets the cycle in progress finish its publish, then releases the
Lease so the standby takes over at once.

Ports: `metrics_port` serves every gauge: in `--no-ray` mode this process's own; in Ray mode the leader flag
and build info of this process plus the coordinator actor's decision and health gauges, fetched after each
cycle (`GaugeExporter.relay`; a standby serves no decision gauges). `health_port` serves /healthz (cycle
liveness: 503 with a one-line reason when a leader has finished no cycle within `liveness_intervals` intervals)
and /readyz (`runtime.health`). In Ray mode the actors are driven by `runtime.ray_driver`, which outlives their
deaths (Ray restarts, or re-creation) and says so in Events on the Lease.

In Ray mode a lost Lease stops the actors (the gate is the driver); in `--no-ray` mode every publish is also
gated (`LeaderGate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.adapters.kube.events import event_body, post_event
from wva_ray.adapters.kube.lease import LeaderElector, LeaseConfig
from wva_ray.api.plan import Decision
from wva_ray.core.errors import NotLeaderError
from wva_ray.core.ports import DecisionPublisher
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.health import Health, LivenessPolicy
from wva_ray.runtime.kube_wiring import KubeWiring
from wva_ray.runtime.local import LocalRuntime
from wva_ray.runtime.wiring import Wiring
from wva_ray.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaderGate:
    """Wraps a publisher: refuses to write unless this instance holds the Lease."""

    inner: DecisionPublisher
    elector: LeaderElector | None

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        if self.elector is not None and not self.elector.is_leader:
            raise NotLeaderError("lost the leader Lease: not publishing")
        await self.inner.publish(decisions, now)


async def start_health_server(health: Health, address: str, port: int) -> tuple[web.AppRunner, int]:
    async def healthz(_: web.Request) -> web.Response:
        alive, reason = health.liveness(time.monotonic())
        return web.Response(status=200 if alive else 503, text=reason)

    async def readyz(_: web.Request) -> web.Response:
        ok = health.ready(time.monotonic())
        return web.Response(status=200 if ok else 503, text="ready" if ok else "not ready")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return runner, bound


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Controller:
    """One `wva-ray run` process."""

    def __init__(self, settings: Settings, identity: str | None = None, wiring: Wiring | None = None) -> None:
        """`wiring` replaces the Kubernetes/Prometheus wiring built from `settings` (in-memory cluster in tests);
        the Lease of leader election always lives on the real API server."""
        self.settings = settings
        self.identity = identity or default_identity()
        self.kube = KubeWiring(settings)
        self.wiring: Wiring = wiring if wiring is not None else self.kube
        self.gauges = GaugeExporter(settings.kube.controller_instance, interval_s=settings.runtime.interval_s)
        s = settings.runtime
        policy = LivenessPolicy(s.liveness_intervals, s.liveness_startup_grace_s, s.liveness_runtime_start_s)
        self.health = Health(s.interval_s, s.leader_election, policy=policy)
        self.elector: LeaderElector | None = None
        self._elector_stop = threading.Event()
        self.ports: dict[str, int] = {}
        self.driver: Any = None  # the RayDriver of the current leadership term (Ray mode)

    def _on_report(self, report: CycleReport) -> None:
        self.health.cycle_finished(time.monotonic(), published=True)

    def _on_error(self, exc: BaseException, attempt: int) -> None:
        self.health.cycle_finished(time.monotonic(), published=False, error=f"{type(exc).__name__}: {exc}"[:300])

    async def _runtime_event(self, reason: str, message: str, warning: bool) -> None:
        """An Event about the runtime (an actor lost and recovered, shards late) on the leader Lease, the
        controller's own object; logged only without leader election (no Lease). Best effort."""
        log.log(logging.WARNING if warning else logging.INFO, "runtime %s: %s", reason, message)
        if self.elector is None:
            return
        s = self.settings
        involved = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "name": s.runtime.lease_name,
            "namespace": s.kube.pod_namespace,
        }
        body = event_body(involved, reason, message, warning=warning, identity=self.identity, now=datetime.now(UTC))
        try:
            error = await asyncio.to_thread(post_event, self.kube.api(), body)
        except Exception as exc:
            error = str(exc)
        if error:
            log.warning("runtime event %s not recorded: %s", reason, error)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings.runtime
        self.ports["metrics"] = self.gauges.serve(s.metrics_port, s.bind_address, relayed=s.use_ray)
        runner, self.ports["health"] = await start_health_server(self.health, s.bind_address, s.health_port)
        elector_task: asyncio.Task[None] | None = None
        if s.leader_election:
            renew = min(10.0, s.lease_duration_s * 2 / 3)
            self.elector = LeaderElector(
                self.kube.api(),
                LeaseConfig(
                    self.settings.kube.pod_namespace,
                    s.lease_name,
                    self.identity,
                    lease_duration_s=s.lease_duration_s,
                    renew_deadline_s=renew,
                    retry_period_s=min(2.0, renew / 2),
                ),
            )
            elector_task = asyncio.create_task(self.elector.run_async(self._elector_stop))
        log.info("controller %s started (metrics :%d, health :%d)", self.identity, *self.ports.values())
        try:
            while not stop.is_set():
                if not await self._wait_leader(stop):
                    break
                await self._lead(stop)
        finally:
            self.health.loop_alive = not stop.is_set()
            self._elector_stop.set()
            if elector_task is not None:
                await elector_task
            self.gauges.set_leader(False)
            await runner.cleanup()
            self.gauges.close()

    def _is_leader(self) -> bool:
        return self.elector is None or self.elector.is_leader

    async def _wait_leader(self, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            leader = self._is_leader()
            self.health.leader = leader
            self.gauges.set_leader(leader)
            if leader:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        return False

    async def _lead(self, stop: asyncio.Event) -> None:
        """Run cycles while leader and not stopped."""
        term = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set() and self._is_leader():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            term.set()

        watcher = asyncio.create_task(watch())
        self.health.became_leader(time.monotonic())
        try:
            if self.settings.runtime.use_ray:
                await self._lead_with_ray(term)
            else:
                await self._lead_local(term)
        finally:
            term.set()
            await watcher
            self.health.leader = self._is_leader() and not stop.is_set()

    async def _lead_local(self, term: asyncio.Event) -> None:
        s = self.settings.runtime
        w = self.wiring
        publishers = [LeaderGate(p, self.elector) for p in w.publishers()]
        core = CycleCore(w.cluster_view(), publishers, s.shards, w.clock(), self.gauges, scrape=s.direct_scrape)
        runtime = LocalRuntime(core, w.metrics_source(), s.interval_s, s.proposal_deadline_s)
        await runtime.run(term, on_report=self._on_report, on_error=self._on_error)

    async def _lead_with_ray(self, term: asyncio.Event) -> None:
        import ray

        from wva_ray.runtime.coordinator_actor import CoordinatorOptions
        from wva_ray.runtime.ray_driver import RayDriver

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self.health.runtime_starting(time.monotonic())  # ends in RayDriver.run once the actors are created
        if not ray.is_initialized():
            # off the event loop: /healthz and /readyz keep answering while a local Ray starts (tens of seconds on
            # a loaded node; a blocked probe counts as a failed one). log_to_driver: the actors' lines
            # (`actor_logging`) appear in this process's output, so one log tells what the controller did
            address = os.environ.get("RAY_ADDRESS") or None
            await asyncio.to_thread(ray.init, address=address, namespace="wva", log_to_driver=True)
        s = self.settings.runtime
        options = CoordinatorOptions(
            shards=s.shards,
            interval_s=s.interval_s,
            deadline_s=s.proposal_deadline_s,
            metrics_port=None,  # its gauges are relayed on this process's metrics_port
            controller_instance=self.settings.kube.controller_instance,
            scrape=s.direct_scrape,
            head_resource=s.head_resource,
            log_level=logging.getLevelName(logging.getLogger("wva_ray").getEffectiveLevel()),
        )
        self.driver = RayDriver(self.wiring, options, self.gauges, self.health, self._runtime_event)
        await self.driver.run(term)
