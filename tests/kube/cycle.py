"""One observe -> decide -> publish cycle against the real API server (test helper).

The production cycle lives in wva_ray.runtime; this helper wires the same three steps directly so the
Kubernetes tier can check what reaches the API server without Ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from wva_ray.adapters.kube.cluster_state import ClusterState
from wva_ray.adapters.kube.publish import KubePublisher, PublishReport
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.decide import decide


def run_cycle(
    reader: KubeReader,
    publisher: KubePublisher,
    metrics: Sequence[PodMetrics] = (),
    now: datetime | None = None,
) -> tuple[ClusterState, Plan, PublishReport]:
    at = now or datetime.now(UTC)
    state = reader.read()
    plan = decide(state.snapshot(at, metrics=metrics), at)
    report = publisher.publish(plan.decisions, at, state.targets)
    return state, plan, report


def pod_metrics_for(state: ClusterState, namespace: str, model: str, kv: float, queue: float) -> list[PodMetrics]:
    """Rows for every live pod of the state in ``namespace`` (as Prometheus would report them)."""
    return [
        PodMetrics(namespace=p.namespace, model_name=model, pod=p.name, kv_cache_usage=kv, queue_length=queue)
        for p in state.pods
        if p.namespace == namespace
    ]
