"""The interfaces the core needs from the outside world, as Protocols. Adapters implement them; the core and the
runtime depend only on these shapes. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.errors import (  # re-exported: the ports raise them (the tree lives in core.errors)
    ConfigError,
    ConflictError,
    MetricsUnavailableError,
    TransientApiError,
)

__all__ = [
    "Clock",
    "ConfigError",
    "ConflictError",
    "DecisionPublisher",
    "MetricsSource",
    "MetricsUnavailableError",
    "ModelGroupRef",
    "QueryTiming",
    "ScaleToZeroQuery",
    "TransientApiError",
]


@dataclass(frozen=True, slots=True, order=True)
class ModelGroupRef:
    """A model group: all VAs with one modelID in one namespace. Ordered by (namespace, modelID).

    Its text form `namespace/modelID` keys the analyzer-slo state (`DecisionState.slo`) and the rendezvous hash;
    `parse` inverts `text` (a namespace never contains `/`, a modelID may).
    """

    namespace: str
    model_id: str

    @property
    def text(self) -> str:
        return f"{self.namespace}/{self.model_id}"

    @classmethod
    def parse(cls, text: str) -> ModelGroupRef:
        namespace, sep, model_id = text.partition("/")
        if not sep:
            raise ValueError(f"model group key {text!r}: expected 'namespace/modelID'")
        return cls(namespace, model_id)


@dataclass(frozen=True, slots=True)
class ScaleToZeroQuery:
    """Ask for the request count of one model group over its retention window."""

    group: ModelGroupRef
    retention_s: float


class QueryTiming(NamedTuple):
    """One metrics collection operation as WVA v0.9's `wva_metrics_collection_*` families count it: the query type
    (their `query_type` label), how long it took, and why it failed (their `reason` label; "" when it answered).
    Measured by the metrics adapter and carried as data (a plain tuple on the shard wire); the core never reads it.
    A source may offer them through an optional `take_query_timings() -> list[QueryTiming]`."""

    query_type: str
    duration_s: float
    error: str = ""


class MetricsSource(Protocol):
    """Per-pod vLLM signals for many model groups at once (one query per signal, never one per model)."""

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        """Rows for every pod of the given groups; raises MetricsUnavailableError when the source fails."""
        ...

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        """Requests served per group over its retention window; a missing row means unknown."""
        ...

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        """EPP flow-control queue size per model (scale-from-zero); empty when not available."""
        ...


class DecisionPublisher(Protocol):
    """Where decisions go: CR status, gauges, direct scaling or Ray Serve targets."""

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
