"""The demo's metrics source on the demo's two clocks: the controller on compressed trace time, the emulated pods
serving in wall time. Rates must come out per wall second, the unit of the capacity the analyzers derive from the
pods' latencies (a real emulated pod on loopback, real sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from wva_ray.adapters.clock import ScaledClock
from wva_ray.core.ports import ModelGroupRef
from wva_ray.demo.cluster import PodEndpoint
from wva_ray.demo.scrape import HostedScrapeSource
from wva_ray.sim.emulator.metrics import Script
from wva_ray.sim.emulator.server import Emulator, PodSpec

RATE = 40.0  # synthetic finished requests per wall second of the emulated pod
GROUP = ModelGroupRef("demo", "m1")


class _Host:
    """The part of `DemoCluster` the source asks: the pods of the groups."""

    def __init__(self, endpoints: list[PodEndpoint]) -> None:
        self.endpoints = endpoints

    async def pod_endpoints(self, groups: Sequence[ModelGroupRef]) -> list[PodEndpoint]:
        return self.endpoints


@pytest.mark.timeout(60)
@pytest.mark.parametrize("speed", [pytest.param(1.0, id="one-clock"), pytest.param(12.0, id="demo-speed-12")])
def test_rates_are_per_wall_second_whatever_the_speed(speed: float) -> None:
    async def main() -> None:
        emu = Emulator()
        try:
            pod = await emu.start_pod(
                PodSpec(name="p", model="m1", namespace="demo", script=Script(request_rate_per_s=RATE))
            )
            source = HostedScrapeSource(
                _Host([PodEndpoint("demo", "m1", "p", pod.url)]), ScaledClock(datetime.now(UTC), time.time(), speed)
            )
            await source.pod_metrics([GROUP])
            wall0 = time.monotonic()
            await asyncio.sleep(1.5)
            (row,) = await source.pod_metrics([GROUP])
            wall = time.monotonic() - wall0
            await source.close()
        finally:
            await emu.close()
        assert row.window_seconds == pytest.approx(wall, rel=0.15)  # wall seconds, not speed x wall
        assert row.arrival_rate == pytest.approx(RATE, rel=0.15)
        assert row.completions is not None and row.completions / row.window_seconds == pytest.approx(RATE, rel=0.15)

    asyncio.run(main())
