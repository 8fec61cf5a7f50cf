"""Builders of real Serve `AutoscalingContext` objects for unit tests (no cluster, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.serve._private.common import DeploymentID, ReplicaID, TimeStampedValue
from ray.serve.config import AutoscalingConfig, AutoscalingContext

NOW_S = 1_800_000_000.0
KV = "kv_cache_usage_perc"
QUEUE = "num_requests_waiting"


def replica(name: str, deployment: str = "llm", app: str = "app") -> ReplicaID:
    return ReplicaID(unique_id=name, deployment_id=DeploymentID(name=deployment, app_name=app))


def series(*points: tuple[float, float]) -> list[TimeStampedValue]:
    """Samples as (age_s before NOW_S, value)."""
    return [TimeStampedValue(timestamp=NOW_S - age, value=value) for age, value in points]


def fresh(kv: float, queue: float) -> dict[str, list[TimeStampedValue]]:
    """One replica's two signals, each a single sample 0.5 s old."""
    return {KV: series((0.5, kv)), QUEUE: series((0.5, queue))}


def make_ctx(
    replicas: Mapping[str, Mapping[str, list[TimeStampedValue]]] | None = None,
    *,
    running: Sequence[str] | None = None,
    target: int | None = None,
    min_replicas: int = 1,
    max_replicas: int = 8,
    now_s: float | None = NOW_S,
    policy_state: dict[str, Any] | None = None,
    deployment: str = "llm",
    app: str = "app",
    look_back_period_s: float = 30.0,
) -> AutoscalingContext:
    """A context whose running replicas are `running` (default: the keys of `replicas`)."""
    replicas = replicas or {}
    names = list(running) if running is not None else list(replicas)
    ids = {n: replica(n, deployment, app) for n in set(names) | set(replicas)}
    raw: dict[str, dict[ReplicaID, list[TimeStampedValue]]] = {}
    for name, stats in replicas.items():
        for stat, values in stats.items():
            raw.setdefault(stat, {})[ids[name]] = values
    config = AutoscalingConfig(
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        look_back_period_s=look_back_period_s,
    )
    return AutoscalingContext(
        deployment_id=DeploymentID(name=deployment, app_name=app),
        deployment_name=deployment,
        app_name=app,
        current_num_replicas=len(names),
        target_num_replicas=len(names) if target is None else target,
        running_replicas=[ids[n] for n in names],
        total_num_requests=0.0,
        total_queued_requests=0.0,
        aggregated_metrics=lambda: {},
        raw_metrics=lambda: raw,
        capacity_adjusted_min_replicas=min_replicas,
        capacity_adjusted_max_replicas=max_replicas,
        policy_state=dict(policy_state or {}),
        last_scale_up_time=None,
        last_scale_down_time=None,
        current_time=now_s,
        config=config,
    )
