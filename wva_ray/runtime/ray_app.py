"""The Ray Serve application of the KubeRay RayService mode: `import_path: wva_ray.runtime.ray_app:app`.

One Serve replica (the supervisor) runs the same `controller.Controller` as `wva-ray run` in Ray mode, with
settings from the same tree (`wva_ray.settings.load_settings`: PROMETHEUS_BASE_URL, GLOBAL_OPT_INTERVAL, WVA_*): it
elects the leader with the Lease, starts the coordinator and the shard actors, serves the gauges and
/healthz /readyz on their ports, and stops the actors when the replica shuts down. Its HTTP route answers the
controller's health (200 when ready, 503 otherwise) so KubeRay's Serve health reflects the controller.

With WVA_HEAD_RESOURCE set, the supervisor (it writes the Lease) and the coordinator (it writes status) both
request a small share of that custom resource, which only the Ray head advertises: they run in the head pod,
with its ServiceAccount. Does I/O (everything the controller does); importing the module reads the settings
from the environment once, to place the replica (WVA_HEAD_RESOURCE), so a bad value fails the deploy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from wva_ray.runtime.controller import Controller
from wva_ray.runtime.launch import HEAD_RESOURCE_SHARE
from wva_ray.runtime.wiring import Wiring
from wva_ray.settings import Settings, load_settings

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 60.0


class WvaSupervisor:
    """The Serve replica that owns one controller (leader election, Ray actors, gauges, health)."""

    def __init__(self, settings: Settings | None = None, wiring: Wiring | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        if not self.settings.runtime.use_ray:
            raise ValueError("use_ray is false (WVA_USE_RAY): the RayService mode runs the Ray runtime")
        self.controller = Controller(self.settings, wiring=wiring)
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.controller.run(self._stop)
        except Exception:
            log.exception("controller stopped with an error")
            raise

    async def __call__(self, request: Request) -> PlainTextResponse:
        if self._task.done():
            return PlainTextResponse("controller stopped", status_code=503)
        ok = self.controller.health.ready(time.monotonic())
        return PlainTextResponse("ready" if ok else "not ready", status_code=200 if ok else 503)

    async def status(self) -> dict[str, Any]:
        """Plain data for tests and operators: leadership, readiness, bound ports."""
        h = self.controller.health
        now = time.monotonic()
        return {
            "running": not self._task.done(),
            "leader": h.leader,
            "ready": h.ready(now),
            "alive": h.liveness(now)[1],
            "ports": dict(self.controller.ports),
        }

    def check_health(self) -> None:
        """Serve's replica health check: the controller loop must be alive."""
        if self._task.done():
            raise RuntimeError("the wva-ray controller loop is not running")
        alive, reason = self.controller.health.liveness(time.monotonic())
        if not alive:
            raise RuntimeError(f"the wva-ray controller is not cycling: {reason}")

    async def __del__(self) -> None:
        """Replica shutdown: finish the cycle in progress, stop the actors, release the Lease."""
        self._stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)


def actor_options(head_resource: str | None) -> dict[str, Any]:
    """The supervisor replica's Ray options: no CPU; on the head when a head resource is given."""
    options: dict[str, Any] = {"num_cpus": 0}
    if head_resource:
        options["resources"] = {head_resource: HEAD_RESOURCE_SHARE}
    return options


def build_app(
    settings: Settings | None = None,
    wiring: Wiring | None = None,
    head_resource: str | None = None,
) -> Application:
    """The Serve application: one supervisor replica. `settings` None reads the environment in the replica;
    `head_resource` None takes `runtime.head_resource` of `settings` (or of the environment, read now)."""
    if head_resource is None:
        head_resource = (settings if settings is not None else load_settings()).runtime.head_resource
    deployment: Any = serve.deployment(
        WvaSupervisor,
        name="wva-controller",
        num_replicas=1,
        max_ongoing_requests=16,
        health_check_period_s=10,
        graceful_shutdown_timeout_s=STOP_TIMEOUT_S,
        ray_actor_options=actor_options(head_resource),
    )
    application: Application = deployment.bind(settings, wiring)
    return application


app = build_app()

__all__ = ["WvaSupervisor", "actor_options", "app", "build_app"]
