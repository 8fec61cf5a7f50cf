"""A scale target whose replicas are real vLLM engines, wired to wva-ray's controller cycle. Does process and
network I/O (through `VllmFleet` and the direct-scrape adapter).

`VllmCluster` is a `MemoryCluster` (VAs, targets, status writes as the Kubernetes publisher) whose one target's
pods are the engines of a `VllmFleet`: creating a pod starts a real engine, a pod is ready when its engine
answers `/health`, deleting a pod stops its engine (in a thread, so the cycle's publish does not wait for it).
`VllmWiring` gives the runtime its ports: the cluster view and direct-scale publisher over the cluster, and
metrics scraped from the ready engines' own `/metrics` (`VllmScrapeSource`). The `--no-ray` cycle
(`runtime.local.LocalRuntime` over `runtime.coordinator_cycle.CycleCore`) runs on it unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wva_ray.adapters.clock import SystemClock
from wva_ray.adapters.scrape import ScrapeMetricsSource, ScrapeTarget
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount, SnapshotConfig
from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource, ModelGroupRef, ScaleToZeroQuery
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.testing.memory_cluster import MemoryCluster, MemoryPod, MemoryTarget, VariantSpec
from wva_ray.testing.remote import MemoryClusterClient
from wva_ray.testing.vllm_engine import LOOPBACK, VllmEngine, VllmFleet
from wva_ray.testing.vllm_load import EngineEndpoint


class VllmCluster(MemoryCluster):
    """One variant (VA + target) whose pods are the engines of `fleet` (see the module docstring)."""

    def __init__(
        self,
        fleet: VllmFleet,
        variant: VariantSpec,
        config: SnapshotConfig | None = None,
        adopt: Sequence[VllmEngine] = (),
    ) -> None:
        """`adopt`: engines of `fleet` already running, used for the variant's first pods (a warm deployment)
        instead of starting new ones; every later pod is a real engine start."""
        super().__init__(time.monotonic, config=config)
        self.fleet = fleet
        self.variant = variant
        self.engines: dict[str, VllmEngine] = {}  # pod name -> its engine
        self._adopt = list(adopt)
        self._started: set[str] = set()
        self.events: list[tuple[float, str, str]] = []  # (monotonic s, "start"/"stop", pod)
        self._stoppers: list[threading.Thread] = []
        self.add_variant(variant)

    def on_pod_created(self, target: MemoryTarget, pod: MemoryPod) -> None:
        if self._adopt:
            self.engines[pod.name] = self._adopt.pop(0)
        else:
            self.engines[pod.name] = self.fleet.start_engine(pod.name)
            self._started.add(pod.name)
        self.events.append((time.monotonic(), "start", pod.name))

    def on_pod_deleted(self, target: MemoryTarget, pod: MemoryPod) -> None:
        engine = self.engines.pop(pod.name, None)
        self.events.append((time.monotonic(), "stop", pod.name))
        if engine is not None and engine in self.fleet.engines:
            self.fleet.engines.remove(engine)
            stopper = threading.Thread(target=engine.stop, name=f"stop-{pod.name}", daemon=True)
            stopper.start()
            self._stoppers.append(stopper)

    def pod_ready(self, target: MemoryTarget, pod: MemoryPod) -> bool:
        engine = self.engines.get(pod.name)
        return engine is not None and engine.poll_ready()

    def ready_pods(self) -> dict[str, VllmEngine]:
        return {pod: e for pod, e in self.engines.items() if e.ready}

    def endpoints(self) -> list[EngineEndpoint]:
        """The ready pods, for a load generator (routing follows readiness, as a Service does)."""
        return [EngineEndpoint(pod, e.url) for pod, e in self.ready_pods().items()]

    def scrape_targets(self) -> list[ScrapeTarget]:
        ns, model = self.variant.namespace, self.fleet.spec.served_model_name
        return [ScrapeTarget(ns, pod, model, e.url) for pod, e in self.ready_pods().items()]

    def file_sd_targets(self) -> list[dict[str, Any]]:
        """Prometheus `file_sd_configs` entries (labels `namespace`, `pod`) of the ready pods."""
        return [
            {"targets": [f"{LOOPBACK}:{e.port}"], "labels": {"namespace": self.variant.namespace, "pod": pod}}
            for pod, e in self.ready_pods().items()
        ]

    def close(self) -> None:
        """Stop every engine this cluster started (adopted engines stay with their fleet's owner)."""
        for t in self._stoppers:
            t.join(30.0)
        for pod in self._started:
            engine = self.engines.get(pod)
            if engine is not None:
                self.fleet.stop_engine(engine.name)
        self.engines.clear()


class VllmScrapeSource:
    """`MetricsSource`: the direct-scrape adapter over the cluster's ready engines (targets refreshed per read).
    `window_s` is the peak window of kv and queue (Prometheus' [1m] by default; tests may shorten it)."""

    def __init__(self, cluster: VllmCluster, window_s: float = 60.0, stale_after_s: float = 30.0) -> None:
        self.cluster = cluster
        self.inner = ScrapeMetricsSource(window_s=window_s, stale_after_s=stale_after_s, timeout_s=5.0)

    def _refresh(self) -> None:
        self.inner.set_targets(self.cluster.scrape_targets())

    async def scrape_once(self) -> int:
        self._refresh()
        return await self.inner.scrape_once()

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        self._refresh()
        return await self.inner.pod_metrics(groups)

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return await self.inner.request_counts(queries)

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        return []

    async def close(self) -> None:
        await self.inner.close()


@dataclass(frozen=True)
class VllmWiring:
    """The runtime's ports over a `VllmCluster` (one process: not for Ray actors, the engines are local)."""

    cluster: VllmCluster
    source: VllmScrapeSource
    time_source: Clock = field(default_factory=SystemClock)

    def cluster_view(self) -> ClusterView:
        return MemoryClusterClient(self.cluster, direct=True)

    def publishers(self) -> list[DecisionPublisher]:
        return [MemoryClusterClient(self.cluster, direct=True)]

    def metrics_source(self) -> MetricsSource:
        return self.source

    def clock(self) -> Clock:
        return self.time_source
