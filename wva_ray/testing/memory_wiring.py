"""`MemoryWiring`: every port backed by one hosted `MemoryCluster` (demo, fault tests, benchmarks). No I/O itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wva_ray.adapters.clock import SystemClock
from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.testing.remote import MemoryClusterClient


@dataclass(frozen=True)
class MemoryWiring:
    """Everything backed by one `MemoryCluster` host (the object itself, or a Ray actor handle to it)."""

    host: Any
    direct: bool = True
    time_source: Clock = SystemClock()  # noqa: RUF009 (frozen, stateless)

    def _client(self) -> MemoryClusterClient:
        return MemoryClusterClient(self.host, direct=self.direct)

    def cluster_view(self) -> ClusterView:
        return self._client()

    def publishers(self) -> list[DecisionPublisher]:
        return [self._client()]

    def metrics_source(self) -> MetricsSource:
        return self._client()

    def clock(self) -> Clock:
        return self.time_source
