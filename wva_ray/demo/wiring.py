"""Wiring of the demo's actors to the embedded `DemoCluster` (a Ray actor handle, or the object itself in
`--no-ray` mode). No I/O at construction; the clients it builds do I/O.

Actuation is direct (the in-memory scale targets are patched), metrics come by direct scrape of the emulated
pods, and the clock is the demo's compressed time; the rates the scrape source reports are per wall second, the
time the pods serve in (`demo.scrape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource
from wva_ray.demo.scrape import HostedScrapeSource
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.testing.remote import call


class DemoClusterClient:
    """ClusterView and DecisionPublisher (status + direct scale) over a hosted `DemoCluster`."""

    def __init__(self, host: Any) -> None:
        self.host = host

    async def observe(self, now: datetime) -> Snapshot:
        snapshot: Snapshot = await call(self.host, "observe_async", now)
        return snapshot

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        await call(self.host, "write_status_async", list(decisions), now, True)


@dataclass(frozen=True)
class DemoWiring:
    host: Any
    time_source: Clock

    def cluster_view(self) -> ClusterView:
        return DemoClusterClient(self.host)

    def publishers(self) -> list[DecisionPublisher]:
        return [DemoClusterClient(self.host)]

    def metrics_source(self) -> MetricsSource:
        return HostedScrapeSource(self.host, self.time_source)

    def clock(self) -> Clock:
        return self.time_source
