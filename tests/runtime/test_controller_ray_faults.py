"""The controller process in Ray mode (`Controller`, the driver of `wva-ray run`) outliving its actors: the
coordinator's and a shard's worker processes SIGKILLed (Ray restarts them), then the coordinator killed for good
(the driver makes it again). Real Ray, the in-memory cluster in a Ray actor. Marker `integration`.

The closed-loop version of the first fault is tests/loop/test_faults.py::test_fault_shard_and_coordinator_killed;
this one is the narrow, fast reproduction (before the fix the first ActorUnavailableError ended the lead loop).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from wva_ray.runtime.controller import Controller
from wva_ray.settings import RuntimeSettings, Settings
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

INTERVAL_S = 1.0


class _Recording(Controller):
    """The controller with its runtime Events kept in a list (no Lease without leader election)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, str, bool]] = []

    async def _runtime_event(self, reason: str, message: str, warning: bool) -> None:
        self.events.append((reason, message, warning))


def _desired_gauge(port: int) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    for line in body.splitlines():
        if line.startswith("wva_desired_replicas{") and 'variant_name="m0-h100"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def _healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


async def _until(
    pred: Callable[[], bool], timeout_s: float, what: str, samples: Callable[[], Awaitable[None]]
) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        await samples()
        if pred():
            return time.monotonic() - t0
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_controller_outlives_sigkilled_actors_and_a_coordinator_dead_for_good(ray_session: None) -> None:
    import ray

    host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
    cluster = host_cls.options(name="ctl-faults-cluster", namespace="wva").remote(time.monotonic)
    ray.get(
        cluster.add_variant.remote(VariantSpec("m0-h100", "m0", "H100", cost=10.0, namespace="llm", max_replicas=4))
    )
    ray.get(cluster.set_load.remote("m0", 0.95, 10.0))  # saturated: decisions move off 1, so a zero would show
    settings = Settings(
        runtime=RuntimeSettings(
            use_ray=True,
            leader_election=False,
            interval_s=INTERVAL_S,
            shards=2,
            metrics_port=0,
            health_port=0,
            bind_address="127.0.0.1",
        )
    )
    c = _Recording(settings, wiring=MemoryWiring(cluster, direct=True))
    gauge: list[float | None] = []
    health: list[int] = []

    async def sample() -> None:  # the servers run on this event loop: the blocking reads go to a thread
        gauge.append(await asyncio.to_thread(_desired_gauge, c.ports["metrics"]))
        health.append((await asyncio.to_thread(_healthz, c.ports["health"]))[0])

    async def nothing() -> None:
        return None

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        try:
            await _until(lambda: c.driver is not None and c.driver.seen_cycle >= 3, 120, "3 cycles", nothing)
            await _until(lambda: bool(gauge) and gauge[-1] is not None, 30, "the relayed gauge", sample)
            gauge.clear()
            health.clear()
            rt = c.driver.rt
            old_epoch = c.driver.epoch
            shard_pid = (await rt.shards[0].info.remote())["pid"]
            coord_pid = (await rt.coordinator.info.remote())["pid"]
            os.kill(shard_pid, signal.SIGKILL)
            await sample()
            await asyncio.sleep(1.5)
            os.kill(coord_pid, signal.SIGKILL)
            before = len(c.driver.recoveries_s)
            took = await _until(lambda: len(c.driver.recoveries_s) > before, 120, "recovery after SIGKILL", sample)
            assert not task.done(), "the controller loop ended"
            assert c.driver.epoch != old_epoch, f"no new coordinator epoch after SIGKILL: {c.events}"
            reasons = [e[0] for e in c.events]
            assert "CoordinatorUnavailable" in reasons and "CoordinatorRecovered" in reasons, c.events
            print(f"SIGKILL: recovered in {took:.1f} s (driver measured {c.driver.recoveries_s[-1]:.1f} s)")

            # killed for good: Ray will not restart it, the driver makes it again under the same name
            before = len(c.driver.recoveries_s)
            epoch = c.driver.epoch
            ray.kill(c.driver.rt.coordinator, no_restart=True)
            took = await _until(lambda: len(c.driver.recoveries_s) > before, 120, "re-creation", sample)
            assert c.driver.epoch != epoch
            recovered = [m for r, m, _ in c.events if r == "CoordinatorRecovered"]
            assert len(recovered) == 2 and "re-created" in recovered[-1], c.events
            print(f"killed for good: recovered in {took:.1f} s")
            await _until(lambda: gauge[-1] is not None, 30, "the gauge of the new coordinator", sample)
        finally:
            stop.set()
            await asyncio.wait_for(task, 120)

    try:
        asyncio.run(scenario())
    finally:
        ray.kill(cluster, no_restart=True)
    # decisions held through both gaps: the gauge never vanished and never hit zero
    assert gauge and all(g is not None and g >= 1 for g in gauge), gauge
    # liveness: a 1 s interval allows 3 s without a cycle; report what was measured, both are legitimate
    print(f"/healthz during the faults: {sorted(set(health))} over {len(health)} samples")
    assert health[-1] == 200
