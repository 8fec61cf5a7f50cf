"""How an actor (or the `--no-ray` driver) builds its I/O objects. No I/O at import or construction.

A `Wiring` is small, picklable configuration that crosses actor boundaries; each actor calls it to build its
own clients inside its own process (Kubernetes API client objects cannot be pickled, and every process needs its
own connections). The production implementation is `runtime.kube_wiring.KubeWiring`; the in-memory one used by the
demo and the tests is `testing.memory_wiring.MemoryWiring`.
"""

from __future__ import annotations

from typing import Protocol

from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource
from wva_ray.runtime.coordinator_cycle import ClusterView


class Wiring(Protocol):
    def cluster_view(self) -> ClusterView: ...

    def publishers(self) -> list[DecisionPublisher]: ...

    def metrics_source(self) -> MetricsSource: ...

    def clock(self) -> Clock: ...
