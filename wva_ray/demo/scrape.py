"""The demo's metrics source: the direct-scrape adapter (`adapters.scrape.ScrapeMetricsSource`, no Prometheus)
with its target list refreshed from the embedded cluster before every read. Does network I/O (through the
adapter) and asks its host for the pod list.

Two clocks (see `adapters.scrape`). The controller runs on the demo's compressed clock (`ScaledClock`: trace
time, `speed` trace seconds per wall second), and the windows are picked on it: "1 m peak" means one minute of
trace time, and staleness and scale-to-zero retention are trace seconds too. The emulated pods, though, serve in
wall time (their latencies and token throughput are those of the real hardware), so the rates this source reports
(`arrival_rate`, learned's `window_seconds` and so completions, tokens and histogram counts per second) are per
wall second, the unit of the capacity the analyzers derive from those latencies. Rates per trace second would read
the demand `speed`-fold too low against that capacity (an analyzer that sizes by rate would then never scale up).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from wva_ray.adapters.scrape import ScrapeMetricsSource, ScrapeTarget
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import Clock, MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery
from wva_ray.testing.remote import call


class HostedScrapeSource:
    """`MetricsSource`: scrape the pods that the host (`pod_endpoints(groups)`) lists right now. `clock` is the
    controller's; `pod_clock` the one the pods serve in (seconds, the rate clock: the wall clock for emulated pods)."""

    def __init__(self, host: Any, clock: Clock, pod_clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.clock = clock
        self.inner = ScrapeMetricsSource(
            clock=lambda: clock.now().timestamp(), rate_clock=pod_clock, stale_after_s=90.0
        )

    async def _refresh(self, groups: Sequence[ModelGroupRef]) -> None:
        try:
            endpoints = await call(self.host, "pod_endpoints", list(groups))
        except Exception as exc:
            raise MetricsUnavailableError(f"pod list unavailable: {exc}") from exc
        # scoped to `groups`: with `--no-ray` every shard reads through this one source
        self.inner.set_targets((ScrapeTarget(e.namespace, e.pod, e.model_id, e.url) for e in endpoints), groups)

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        await self._refresh(groups)
        return await self.inner.pod_metrics(groups)

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return await self.inner.request_counts(queries)

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        return await self.inner.flow_control_queues(groups)

    async def close(self) -> None:
        await self.inner.close()
