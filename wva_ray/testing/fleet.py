"""A synthetic fleet at scale (10,000-100,000 VAs, three accelerator variants per model) for the scale and soak
benchmarks: the Kubernetes side is a `MemoryCluster` (the coordinator's informer-like view, status writes with
the publisher's change rules), the Prometheus side a `FleetMetrics` that answers batched pod-metric queries from
a formula, as a Prometheus result set of that size would. No I/O (reads the wall clock for the load schedule).

Nothing here is copied per actor: `FleetWiring` is a few numbers; the coordinator builds the cluster in its own
process on first use, each shard builds only the metrics formula. Pod names are deterministic (`<variant>-<i>`,
one ready pod per VA), so the shards' rows join the coordinator's pods without sharing state. A fraction `churn`
of the models changes load each `period_s` of the decision clock (so some decisions and status writes change
every cycle while most do not, as in a steady fleet); with `replace_every_s`, a slice of the models is deleted
and replaced by new ones on that schedule (VAs come and go). `FleetCluster.stats()` classifies every status
write as change, heartbeat or other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wva_ray.adapters.clock import SystemClock
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount, Snapshot
from wva_ray.core.ports import Clock, DecisionPublisher, MetricsSource, ModelGroupRef, ScaleToZeroQuery
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.testing.memory_cluster import MemoryCluster, MemoryTarget, VariantSpec

ACCELERATORS = (("H100", 30.0), ("A100", 12.0), ("L40S", 5.0))


@dataclass(frozen=True, slots=True)
class FleetShape:
    """How many VAs, how they are grouped, and how the load moves."""

    vas: int
    variants_per_model: int = 3
    namespaces: int = 100
    churn: float = 0.02  # fraction of models whose load changes each period
    period_s: float = 30.0  # load schedule step, in seconds of the decision clock
    generation: int = 0  # > 0: a different set of model names (VAs "come and go" in the soak)
    replace_every_s: float = 0.0  # > 0: every so often (decision clock) replace `replace_fraction` of the models
    replace_fraction: float = 0.05

    @property
    def models(self) -> int:
        return -(-self.vas // self.variants_per_model)

    def model_id(self, m: int) -> str:
        return f"g{self.generation}-m{m}" if self.generation else f"m{m}"

    def specs(self) -> list[VariantSpec]:
        out: list[VariantSpec] = []
        for m in range(self.models):
            for acc, cost in ACCELERATORS[: self.variants_per_model]:
                if len(out) == self.vas:
                    return out
                model = self.model_id(m)
                out.append(
                    VariantSpec(f"{model}-{acc.lower()}", model, acc, cost=cost, namespace=f"ns{m % self.namespaces}")
                )
        return out


def _hot(model_id: str, step: int, churn: float) -> bool:
    digest = hashlib.blake2b(f"{model_id}\x00{step}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < churn * 2**32


def model_load(model_id: str, step: int, churn: float) -> tuple[float, float]:
    """(kv, queue) of a model at schedule step `step`: idle-ish, or saturated in the steps it is hot."""
    return (0.92, 8.0) if _hot(model_id, step, churn) else (0.45, 0.0)


class FleetCluster(MemoryCluster):
    """The fleet's Kubernetes side, built from a `FleetShape` (pods named `<variant>-<i>`)."""

    def __init__(self, shape: FleetShape, heartbeat_s: float = 300.0) -> None:
        super().__init__(time.monotonic, heartbeat_s=heartbeat_s)
        self.shape = shape
        self.generation = shape.generation
        self.replaced_at: int | None = None
        self.kinds = {"change": 0, "heartbeat": 0, "other": 0}
        self._last: dict[str, tuple[datetime, int | None]] = {}
        for spec in shape.specs():
            self.add_variant(spec)

    def pod_name(self, target: MemoryTarget) -> str:
        return f"{target.name}-{len(target.pods)}"

    def observe(self, now: datetime) -> Snapshot:
        if self.shape.replace_every_s > 0:
            slot = int(now.timestamp() // self.shape.replace_every_s)
            if self.replaced_at is None:
                self.replaced_at = slot
            elif slot != self.replaced_at:
                self.replaced_at = slot
                self.replace_slice(self.shape.replace_fraction)
        return super().observe(now)

    def replace_slice(self, fraction: float) -> tuple[int, int]:
        """Delete `fraction` of the models and create as many new ones (new names)."""
        models = sorted({obj["spec"]["modelID"] for obj in self.vas.values()})
        gone = set(models[: max(1, int(len(models) * fraction))])
        deleted = 0
        for key in [k for k, obj in self.vas.items() if obj["spec"]["modelID"] in gone]:
            ns, name = key.split("/", 1)
            self.delete_variant(ns, name)
            self._last.pop(key, None)
            deleted += 1
        self.generation += 1
        specs = dataclasses.replace(self.shape, vas=deleted, generation=self.generation).specs()
        for spec in specs:
            self.add_variant(spec)
        return deleted, len(specs)

    def write_status(self, decisions: Sequence[Decision], now: datetime, direct: bool = False) -> int:
        start = len(self.writes)
        written = super().write_status(decisions, now, direct)
        for w in self.writes[start:]:
            before = self._last.get(w.key)
            if before is None or before[1] != w.desired:
                kind = "change"
            elif (w.at - before[0]).total_seconds() >= self.heartbeat_s - 1e-6:
                kind = "heartbeat"
            else:
                kind = "other"
            self.kinds[kind] += 1
            self._last[w.key] = (w.at, w.desired)
        del self.writes[start:]  # counted, not kept (a soak writes hundreds of thousands)
        return written

    def stats(self) -> dict[str, Any]:
        return {"vas": len(self.vas), "generation": self.generation, "writes": dict(self.kinds)}


@dataclass
class FleetMetrics:
    """The fleet's Prometheus side: one row per pod of the asked groups (a formula, no stored series)."""

    shape: FleetShape
    clock: Clock = field(default_factory=SystemClock)

    def step(self) -> int:
        return int(self.clock.now().timestamp() // self.shape.period_s)

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        step = self.step()
        rows = []
        accelerators = [acc.lower() for acc, _ in ACCELERATORS[: self.shape.variants_per_model]]
        for g in groups:
            kv, queue = model_load(g.model_id, step, self.shape.churn)
            for acc in accelerators:
                rows.append(
                    PodMetrics.model_construct(
                        namespace=g.namespace,
                        model_name=g.model_id,
                        pod=f"{g.model_id}-{acc}-0",
                        kv_cache_usage=kv,
                        queue_length=queue,
                        num_gpu_blocks=None,
                        block_size=None,
                        avg_input_tokens=None,
                        avg_output_tokens=None,
                        stale=False,
                    )
                )
        return rows

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return []

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        return []


class _FleetView:
    def __init__(self, cluster: FleetCluster) -> None:
        self.cluster = cluster

    async def observe(self, now: datetime) -> Snapshot:
        return self.cluster.observe(now)

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        self.cluster.write_status(decisions, now, False)


@dataclass(frozen=True)
class FleetWiring:
    """Wiring for the runtime: the coordinator gets the cluster (built in its process), shards the metrics."""

    shape: FleetShape
    time_source: Clock = SystemClock()  # noqa: RUF009 (frozen, stateless)
    _built: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def _cluster(self) -> FleetCluster:
        if "cluster" not in self._built:
            self._built["cluster"] = FleetCluster(self.shape)
        cluster: FleetCluster = self._built["cluster"]
        return cluster

    def _view(self) -> _FleetView:
        if "view" not in self._built:
            self._built["view"] = _FleetView(self._cluster())
        view: _FleetView = self._built["view"]
        return view

    def cluster_view(self) -> ClusterView:
        return self._view()

    def publishers(self) -> list[DecisionPublisher]:
        return [self._view()]

    def metrics_source(self) -> MetricsSource:
        return FleetMetrics(self.shape, self.time_source)

    def clock(self) -> Clock:
        return self.time_source


class StepClock:
    """A `Clock` that moves only when told: `step` periods of the fleet's load schedule after a fixed epoch, one
    per cycle (benchmarks and tests drive the cycle by hand)."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.step = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(1_800_000_000 + self.step * self.period_s, UTC)
