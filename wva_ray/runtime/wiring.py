"""How an actor (or the `--no-ray` driver) builds its I/O objects. No I/O at import or construction.

A `Wiring` is small, picklable configuration that crosses actor boundaries; each actor calls it to build its
own clients inside its own process (Kubernetes API client objects cannot be pickled, and every process needs its
own connections). `MemoryWiring` targets a hosted `MemoryCluster` (demo, fault tests, benchmark).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource
from wva_ray.runtime.coordination import ClusterView
from wva_ray.runtime.remote import MemoryClusterClient


class Wiring(Protocol):
    def cluster_view(self) -> ClusterView: ...

    def publishers(self) -> list[DecisionPublisher]: ...

    def metrics_source(self) -> MetricsSource: ...

    def clock(self) -> Clock: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """Time that runs `speed` times faster than the wall clock from `origin` (the demo's compressed time).

    `origin_wall_s` is a `time.time()` value, so every process of the demo agrees on the same virtual time.
    """

    origin: datetime
    origin_wall_s: float
    speed: float

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.origin_wall_s) * self.speed)


@dataclass(frozen=True)
class MemoryWiring:
    """Everything backed by one `MemoryCluster` host (the object itself, or a Ray actor handle to it)."""

    host: Any
    direct: bool = True
    time_source: Clock = SystemClock()

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
