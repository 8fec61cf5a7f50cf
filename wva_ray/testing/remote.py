"""Call a method on an object that is either local or a Ray actor, with one async signature. I/O: Ray calls.

The runtime's adapters for in-memory backends (`MemoryClusterClient`) hold a "host": the object itself in
`--no-ray` mode, or a Ray actor handle hosting it (picklable, shared by the coordinator and the shards).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount, Snapshot
from wva_ray.core.ports import ModelGroupRef, ScaleToZeroQuery


async def call(host: Any, method: str, *args: Any) -> Any:
    """`host.method(*args)`, awaited: through `.remote()` when `host` is a Ray actor handle."""
    attr = getattr(host, method)
    remote = getattr(attr, "remote", None)
    if remote is not None and type(host).__name__ == "ActorHandle":
        return await remote(*args)
    result = attr(*args)
    if inspect.isawaitable(result):
        return await result
    return result


class MemoryClusterClient:
    """ClusterView + MetricsSource (scripted) + DecisionPublisher over a hosted `MemoryCluster`."""

    def __init__(self, host: Any, direct: bool = False) -> None:
        self.host = host
        self.direct = direct

    async def observe(self, now: datetime) -> Snapshot:
        snapshot: Snapshot = await call(self.host, "observe", now)
        return snapshot

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        await call(self.host, "write_status", list(decisions), now, self.direct)

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        rows: list[PodMetrics] = await call(self.host, "scripted_pod_metrics", list(groups))
        return rows

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return []

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        return []
