"""The --no-ray runtime on an in-memory cluster: decisions, sharding, holds for late shards, backoff loop."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef
from wva_ray.core.sharding import shard_of
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.runtime.local import LocalRuntime
from wva_ray.runtime.loop import Backoff, cycle_loop
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.remote import MemoryClusterClient


def _sync(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test body in a fresh event loop (no pytest-asyncio here)."""

    @functools.wraps(fn)
    def wrapper() -> None:
        asyncio.run(asyncio.wait_for(fn(), timeout=30))

    return wrapper


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> datetime:
        return datetime(2026, 11, 27, 12, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t


def _cluster(clock: FakeClock, models: int = 4) -> MemoryCluster:
    c = MemoryCluster(clock.monotonic)
    for m in range(models):
        for acc, cost in (("H100", 10.0), ("L40S", 3.0)):
            c.add_variant(VariantSpec(f"m{m}-{acc.lower()}", f"m{m}", acc, cost=cost, namespace="llm"))
        c.set_load(f"m{m}", 0.3, 0.0)
    return c


def _runtime(c: MemoryCluster, clock: FakeClock, shards: int = 2, direct: bool = True) -> LocalRuntime:
    client = MemoryClusterClient(c, direct=direct)
    core = CycleCore(client, [client], shards, clock, GaugeExporter())
    return LocalRuntime(core, client, interval_s=30.0, deadline_s=1.0)


@_sync
async def test_a_cycle_decides_every_va_and_writes_status() -> None:
    clock = FakeClock()
    c = _cluster(clock)
    rt = _runtime(c, clock)
    report = await rt.run_once()
    assert sorted(d.key for d in report.plan.decisions) == sorted(c.vas)
    assert report.missing_shards == ()
    assert all(c.desired("llm", d.name) == d.desired_replicas for d in report.plan.decisions)


@_sync
async def test_saturated_model_scales_up_cheapest_variant_and_direct_mode_scales_target() -> None:
    clock = FakeClock()
    c = _cluster(clock, models=2)
    c.set_load("m0", 0.95, 10.0)
    rt = _runtime(c, clock)
    report = await rt.run_once()
    by = report.plan.by_key()
    assert by["llm/m0-l40s"].desired_replicas == 2
    assert by["llm/m0-h100"].desired_replicas == 1
    assert c.targets["llm/m0-l40s"].spec_replicas == 2
    assert by["llm/m1-l40s"].desired_replicas == 1


@_sync
async def test_metrics_outage_holds_every_decision() -> None:
    clock = FakeClock()
    c = _cluster(clock, models=2)
    c.set_load("m0", 0.95, 10.0)
    rt = _runtime(c, clock)
    await rt.run_once()
    before = {k: c.desired(*k.split("/")) for k in c.vas}
    c.set_metrics_outage(True)
    c.set_load("m0", 0.0, 0.0)
    for _ in range(3):
        clock.t += 30
        report = await rt.run_once()
        assert {d.key: d.desired_replicas for d in report.plan.decisions} == before
        assert all(d.held for d in report.plan.decisions)


@pytest.mark.parametrize("cycles", [pytest.param(3, id="3-cycles"), pytest.param(20, id="20-cycles")])
def test_a_metrics_outage_is_logged_when_it_starts_and_ends_not_per_cycle(
    cycles: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        clock = FakeClock()
        cluster = _cluster(clock, models=4)
        rt = _runtime(cluster, clock)
        await rt.run_once()
        cluster.set_metrics_outage(True)
        for _ in range(cycles):
            clock.t += 30
            await rt.run_once()
        cluster.set_metrics_outage(False)
        clock.t += 30
        await rt.run_once()

    with caplog.at_level(logging.INFO, logger="wva_ray.runtime.shard_cycle"):
        asyncio.run(asyncio.wait_for(run(), timeout=30))
    lines = [r.getMessage() for r in caplog.records if r.name == "wva_ray.runtime.shard_cycle"]
    down = [m for m in lines if "metrics unavailable" in m]
    back = [m for m in lines if "metrics available again" in m]
    shards = len({m.split()[0] for m in down})
    assert 1 <= shards <= 2 and len(down) == shards and len(back) == shards, lines


class _HangingFor:
    """Wraps a source; never answers for the groups of one shard (a stuck shard)."""

    def __init__(self, inner: MemoryClusterClient, stuck_shard: int, shards: int) -> None:
        self.inner, self.stuck, self.shards = inner, stuck_shard, shards

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        if groups and shard_of(groups[0], self.shards) == self.stuck:
            await asyncio.Event().wait()
        return await self.inner.pod_metrics(groups)

    async def request_counts(self, queries: Sequence[object]) -> list[object]:
        return []

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[object]:
        return []


@_sync
async def test_late_shard_groups_hold_their_last_decision() -> None:
    clock = FakeClock()
    c = _cluster(clock, models=6)
    client = MemoryClusterClient(c, direct=True)
    core = CycleCore(client, [client], 2, clock)
    await LocalRuntime(core, client, 30.0, 1.0).run_once()
    for m in range(6):
        c.set_load(f"m{m}", 0.95, 10.0)  # everybody wants to scale up now
    clock.t += 30
    rt = LocalRuntime(core, _HangingFor(client, stuck_shard=1, shards=2), 30.0, deadline_s=0.05)  # type: ignore[arg-type]
    report = await rt.run_once()
    assert report.missing_shards == (1,)
    for d in report.plan.decisions:
        stuck = shard_of(ModelGroupRef("llm", d.model_id), 2) == 1
        if stuck:
            assert d.held and d.desired_replicas == 1, d
        elif d.name.endswith("l40s"):
            assert d.desired_replicas == 2, d


@_sync
async def test_cycle_loop_backs_off_0_1_doubling_to_4_and_resets() -> None:
    sleeps: list[float] = []
    stop = asyncio.Event()
    outcomes = iter([False] * 8 + [True, False, True])

    async def run_once() -> int:
        ok = next(outcomes, None)
        if ok is None:
            stop.set()
            return 0
        if not ok:
            raise MetricsUnavailableError("down")
        return 1

    async def fake_sleep(s: float) -> None:
        sleeps.append(round(s, 3))

    await cycle_loop(run_once, 30.0, stop, sleep=fake_sleep, monotonic=lambda: 0.0)
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 4.0, 4.0, 30.0, 0.1, 30.0]


@pytest.mark.parametrize(("failures", "delay"), [(0, 0.0), (1, 0.1), (3, 0.4), (7, 4.0), (50, 4.0)])
def test_backoff_delays(failures: int, delay: float) -> None:
    assert Backoff().delay_s(failures) == pytest.approx(delay)


@_sync
async def test_shards_without_groups_are_not_reported_late() -> None:
    clock = FakeClock()
    c = _cluster(clock, models=1)
    report = await _runtime(c, clock, shards=4).run_once()
    assert report.missing_shards == ()
    assert not any(d.held for d in report.plan.decisions)
