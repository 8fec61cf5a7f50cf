"""collect_metrics: a failing source becomes metricsError; a failing flow-control query does not stop the cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tests.core.builders import V, snapshot
from wva_ray.adapters.kube.live_snapshot import collect_metrics
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery

ROW = PodMetrics(namespace="llm", model_name="m1", pod="a-0", kv_cache_usage=0.5, queue_length=1)


class Source:
    def __init__(self, fail_rows: bool = False, fail_queues: bool = False) -> None:
        self.fail_rows, self.fail_queues = fail_rows, fail_queues

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        if self.fail_rows:
            raise MetricsUnavailableError("prometheus: connection refused")
        return [ROW]

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return []

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        if self.fail_queues:
            raise MetricsUnavailableError("query failed")
        return []


def test_flow_control_failure_keeps_the_metrics() -> None:
    snap = asyncio.run(collect_metrics(snapshot(V("a", [])), Source(fail_queues=True)))
    assert snap.metrics == [ROW] and snap.metrics_error is None and snap.flow_control_queues == []


def test_metrics_failure_is_recorded_not_raised() -> None:
    snap = asyncio.run(collect_metrics(snapshot(V("a", [])), Source(fail_rows=True)))
    assert snap.metrics_error == "prometheus: connection refused" and snap.metrics == []
