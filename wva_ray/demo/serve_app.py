"""A CPU stand-in for a vLLM-backed Serve deployment, for tests, the docs' runnable snippet and demos. The
replicas sleep instead of generating tokens; no other I/O.

`FakeLLM` admits `kv_slots` requests at a time (the rest wait), holds each for `service_s` seconds, and reports
KV usage = running / kv_slots and waiting = in-flight - running through `SaturationStatsMixin`, exactly the two
signals a vLLM engine would give the policy. `build_app` (single variant) and `build_multi_variant_app` (one
deployment per accelerator variant behind a least-loaded router) are Serve application builders usable from an
`import_path` in a Serve config file.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve._private.common import ReplicaState
from ray.serve.deployment import Deployment
from ray.serve.handle import DeploymentHandle

from wva_ray.serve.mixin import InFlightSaturation, SaturationSample, SaturationStatsMixin

logger = logging.getLogger("ray.serve.wva")


class FakeLlmArgs(BaseModel):
    """Builder arguments (the `args:` of a Serve application config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_slots: int = Field(default=4, ge=1)
    service_s: float = Field(default=0.5, gt=0)
    report_stats: bool = True


class MultiVariantArgs(FakeLlmArgs):
    variants: list[str] = Field(default_factory=lambda: ["h100", "a100"], min_length=1)


class FakeLlmReplica(SaturationStatsMixin):
    """One emulated LLM replica (see the module docstring)."""

    def __init__(self, kv_slots: int = 4, service_s: float = 0.5, report_stats: bool = True) -> None:
        self._tracker = InFlightSaturation(kv_slots)
        self._slots = asyncio.Semaphore(kv_slots)
        self._service_s = service_s
        self._report_stats = report_stats

    def saturation_sample(self) -> SaturationSample | None:
        """KV usage and queue; None (nothing reported) when built with report_stats=False (missing-data tests)."""
        return self._tracker.sample() if self._report_stats else None

    async def __call__(self, request: Any = None) -> str:
        self._tracker.started()
        try:
            async with self._slots:
                await asyncio.sleep(self._service_s)
        finally:
            self._tracker.finished()
        return "ok"


class VariantRouterReplica:
    """Ingress of the multi-variant app: least-loaded routing across the variant deployments.

    Like an inference gateway, it sends each request to the variant with the fewest in-flight requests per running
    replica (ties: the variant listed first). Running replica counts come from `serve.status()`, refreshed every
    `refresh_s` on a worker thread (the request path never waits on it).
    """

    def __init__(self, *variants: DeploymentHandle[Any], refresh_s: float = 0.5) -> None:
        self._handles = {h.deployment_name: h for h in variants}
        self._in_flight = dict.fromkeys(self._handles, 0)
        self._running = dict.fromkeys(self._handles, 1)
        self._refresh_s = refresh_s
        self._refresher: asyncio.Task[None] | None = None

    async def _refresh_forever(self) -> None:
        while True:
            try:
                self._running = await asyncio.to_thread(self._running_replicas)
            except Exception as err:  # keep the last counts; routing still works
                logger.warning("VariantRouter: serve.status() failed: %s", err)
            await asyncio.sleep(self._refresh_s)

    def _running_replicas(self) -> dict[str, int]:
        app = serve.get_replica_context().app_name
        deployments = serve.status().applications[app].deployments
        return {
            name: max(1, deployments[name].replica_states.get(ReplicaState.RUNNING, 0)) if name in deployments else 1
            for name in self._handles
        }

    def _pick(self) -> str:
        return min(self._handles, key=lambda name: (self._in_flight[name] + 1) / self._running[name])

    async def __call__(self, request: Any = None) -> str:
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever())
        name = self._pick()
        self._in_flight[name] += 1
        try:
            result: str = await self._handles[name].remote()
        finally:
            self._in_flight[name] -= 1
        return result


FakeLLM: Deployment = serve.deployment(name="FakeLLM", max_ongoing_requests=1000, ray_actor_options={"num_cpus": 0})(
    FakeLlmReplica
)
VariantRouter: Deployment = serve.deployment(
    name="VariantRouter", max_ongoing_requests=10000, ray_actor_options={"num_cpus": 0}
)(VariantRouterReplica)


def build_app(args: dict[str, Any]) -> Any:
    """Serve application builder: one `FakeLLM` deployment (its autoscaling comes from the config file)."""
    a = FakeLlmArgs.model_validate(args)
    return FakeLLM.bind(a.kv_slots, a.service_s, a.report_stats)


def build_multi_variant_app(args: dict[str, Any]) -> Any:
    """Serve application builder: one `FakeLLM` deployment per variant name, behind `VariantRouter`."""
    a = MultiVariantArgs.model_validate(args)
    variants = [FakeLLM.options(name=name).bind(a.kv_slots, a.service_s, a.report_stats) for name in a.variants]
    return VariantRouter.bind(*variants)
