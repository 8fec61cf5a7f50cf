"""`MemoryWiring`: every port backed by one hosted `MemoryCluster` (demo, fault tests, benchmarks), or the metrics
from a real Prometheus (`prometheus`: the source queries it over HTTP). No I/O itself."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wva_ray.adapters.clock import SystemClock
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource, ModelGroupRef
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.testing.remote import MemoryClusterClient


class _SlowMetrics(MemoryClusterClient):
    """The scripted metrics, answered `delay_s` late (a shard busy collecting: faults land mid-cycle)."""

    def __init__(self, host: Any, direct: bool, delay_s: float) -> None:
        super().__init__(host, direct=direct)
        self.delay_s = delay_s

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        await asyncio.sleep(self.delay_s)
        return await super().pod_metrics(groups)


@dataclass(frozen=True)
class MemoryWiring:
    """Everything backed by one `MemoryCluster` host (the object itself, or a Ray actor handle to it)."""

    host: Any
    direct: bool = True
    time_source: Clock = SystemClock()  # noqa: RUF009 (frozen, stateless)
    metrics_delay_s: float = 0.0  # > 0: each shard's metrics read takes this long
    prometheus: PrometheusSettings | None = None  # set: each shard reads its metrics from this Prometheus

    def _client(self) -> MemoryClusterClient:
        return MemoryClusterClient(self.host, direct=self.direct)

    def cluster_view(self) -> ClusterView:
        return self._client()

    def publishers(self) -> list[DecisionPublisher]:
        return [self._client()]

    def metrics_source(self) -> MetricsSource:
        if self.prometheus is not None:
            return PrometheusMetricsSource(self.prometheus)
        if self.metrics_delay_s > 0:
            return _SlowMetrics(self.host, self.direct, self.metrics_delay_s)
        return self._client()

    def clock(self) -> Clock:
        return self.time_source
