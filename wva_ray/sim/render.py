"""What the controller would read at one tick, rendered from the simulator's scraped metrics. Pure, no I/O.

Two renderings of the same moment, both from the `Tsdb` (samples exist only at scrape times, so every signal is
as late as a real scrape makes it) and the pod/Deployment state the Kubernetes API would return:

- `observation(...)`: the per-pod PromQL values the baselines read (HPA adapter rate windows, KEDA's query,
  Ray Serve's ongoing requests);
- `snapshot_data(...)`: the `wva-ray plan` input (../shared/spec/snapshot-format.md) with the windows of
  wva_ray.adapters.prometheus.queries: KV and queue `max_over_time[1m]`, running `avg_over_time[1m]`, arrival
  `rate(vllm:request_success_total[1m])`, token means `rate(sum[5m]) / rate(count[5m])`, request counts
  `increase(...[10m])`, `cache_config_info` (num_gpu_blocks, block_size), the Deployment's vLLM arguments,
  free GPUs from the inventory and the gateway's flow-control queue. Controller-owned parts (the ConfigMaps,
  VA status, carried state) are left to the policy, which keeps them as the runtime does.

Nothing here passes a serving profile's latency parameters or a start-up delay: only what a real cluster shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.observe import (
    GEN_SUM,
    ITL_N,
    ITL_SUM,
    KV,
    PROMPT_SUM,
    QUEUE_SUM,
    RUNNING,
    SUCCESS,
    TTFT_SUM,
    WAITING,
    ModelView,
    Observation,
    PodView,
    Tsdb,
    VariantView,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ACCELERATOR_LABEL = "inference.optimization/acceleratorName"
SERVICE_CLASS_LABEL = "wva.llmd.ai/service-class"
REQUEST_COUNT_WINDOW_S = 600.0  # scale-to-zero retention default (10m)
# The model ID vLLM reports for a profile's model (what a VA's spec.modelID names); others keep the profile's name.
MODEL_IDS = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
}
STARTING, READY, DRAINING, STOPPED = range(4)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sim_time(now_s: float) -> datetime:
    return EPOCH + timedelta(seconds=now_s)


def model_id_of(profile: Profile) -> str:
    return MODEL_IDS.get(profile.model, profile.model)


class VariantLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def profile(self) -> Profile: ...
    @property
    def cost_per_replica(self) -> float: ...
    @property
    def min_replicas(self) -> int: ...
    @property
    def max_replicas(self) -> int: ...


class PodLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> int: ...
    @property
    def created_s(self) -> float: ...
    @property
    def ready_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One scenario model as the cluster shows it: namespace (= the model's name), priority, gateway queue."""

    name: str
    priority: int
    gateway_queue: int
    received: int = 0


def _pod_view(db: Tsdb, pod: PodLike, now_s: float) -> PodView:
    name = pod.name
    run = db.avg_over_time(name, RUNNING, now_s, 30.0)
    wait = db.avg_over_time(name, WAITING, now_s, 30.0)
    d_prompt = db.increase(name, PROMPT_SUM, now_s, 300.0)
    d_gen = db.increase(name, GEN_SUM, now_s, 300.0)
    d_ok = db.increase(name, SUCCESS, now_s, 300.0)
    rate_ok = db.rate(name, SUCCESS, now_s, 60.0)
    return PodView(
        name=name,
        ready=pod.state == READY,
        draining=pod.state == DRAINING,
        kv_max_1m=db.max_over_time(name, KV, now_s, 60.0),
        queue_max_1m=db.max_over_time(name, WAITING, now_s, 60.0),
        kv_avg_30s=db.avg_over_time(name, KV, now_s, 30.0),
        ongoing_avg_30s=None if run is None or wait is None else run + wait,
        running_last=db.last(name, RUNNING, now_s),
        waiting_last=db.last(name, WAITING, now_s),
        avg_input_tokens_5m=d_prompt / d_ok if d_prompt is not None and d_ok else None,
        avg_output_tokens_5m=d_gen / d_ok if d_gen is not None and d_ok else None,
        arrival_rate_1m=rate_ok,
        running_avg_1m=db.avg_over_time(name, RUNNING, now_s, 60.0),
        window_1m_s=db.span(name, now_s, 60.0),
        kv_avg_1m=db.avg_over_time(name, KV, now_s, 60.0),
        completions_1m=db.increase(name, SUCCESS, now_s, 60.0),
        prompt_tokens_1m=db.increase(name, PROMPT_SUM, now_s, 60.0),
        generation_tokens_1m=db.increase(name, GEN_SUM, now_s, 60.0),
        itl_sum_1m=db.increase(name, ITL_SUM, now_s, 60.0),
        itl_count_1m=db.increase(name, ITL_N, now_s, 60.0),
        ttft_sum_1m=db.increase(name, TTFT_SUM, now_s, 60.0),
        queue_sum_1m=db.increase(name, QUEUE_SUM, now_s, 60.0),
        created_s=pod.created_s,
        ready_s=pod.ready_s if pod.ready_s > pod.created_s else None,  # a pod of the initial fleet: no start seen
    )


def _counts(pods: Sequence[PodLike]) -> tuple[int, int]:
    ready = sum(1 for p in pods if p.state == READY)
    starting = sum(1 for p in pods if p.state == STARTING)
    return ready, starting


def count_views(variants: Iterable[VariantLike], pods: Mapping[str, Sequence[PodLike]]) -> tuple[VariantView, ...]:
    """Replica counts only (what an HPA reads from the scale subresource), no per-pod metrics."""
    out = []
    for var in variants:
        ready, starting = _counts(pods[var.name])
        out.append(
            VariantView(
                var.name,
                var.model,
                var.profile.accelerator,
                var.profile.gpus,
                var.cost_per_replica,
                ready + starting,
                ready,
                starting,
                var.min_replicas,
                var.max_replicas,
                (),
            )
        )
    return tuple(out)


def observation(
    now_s: float,
    db: Tsdb,
    variants: Iterable[VariantLike],
    pods: Mapping[str, Sequence[PodLike]],
    models: Sequence[ModelInfo],
    gpu_free: dict[str, int] | None,
    with_snapshot: bool,
) -> Observation:
    views: list[VariantView] = []
    variants = list(variants)
    for var in variants:
        vpods = pods[var.name]
        ready, starting = _counts(vpods)
        views.append(
            VariantView(
                name=var.name,
                model=var.model,
                accelerator=var.profile.accelerator,
                gpus=var.profile.gpus,
                cost_per_replica=var.cost_per_replica,
                current=ready + starting,
                ready=ready,
                pending=starting,
                min_replicas=var.min_replicas,
                max_replicas=var.max_replicas,
                pods=tuple(_pod_view(db, p, now_s) for p in vpods if p.state in (READY, DRAINING)),
            )
        )
    counts = _request_counts(now_s, db, variants, pods)
    model_views = tuple(
        ModelView(m.name, m.priority, m.gateway_queue, counts.get(m.name, 0.0), m.received) for m in models
    )
    snap = snapshot_data(now_s, variants, views, model_views, gpu_free) if with_snapshot else None
    return Observation(now_s, tuple(views), model_views, gpu_free, snap)


def _request_counts(
    now_s: float, db: Tsdb, variants: Sequence[VariantLike], pods: Mapping[str, Sequence[PodLike]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for var in variants:
        for p in pods[var.name]:
            if p.state != STOPPED:
                out[var.model] = out.get(var.model, 0.0) + (
                    db.increase(p.name, SUCCESS, now_s, REQUEST_COUNT_WINDOW_S) or 0.0
                )
    return out


def _window_fields(p: PodView) -> dict[str, Any]:
    """The pod's 1 m window as the collector reports it for analyzer learned (PodMetrics.window_seconds ...):
    gauges averaged (`avg_over_time[1m]`), counters and histogram _sum/_count as `increase[1m]`."""
    if p.window_1m_s is None or p.window_1m_s <= 0 or p.completions_1m is None:
        return {}
    out: dict[str, Any] = {
        "windowSeconds": p.window_1m_s,
        "runningMean": p.running_avg_1m,
        "kvUsageMean": p.kv_avg_1m,
        "waitingNow": p.waiting_last,
        "completions": p.completions_1m,
        "promptTokens": p.prompt_tokens_1m,
        "generationTokens": p.generation_tokens_1m,
        "itlSecondsSum": p.itl_sum_1m,
        "itlCount": p.itl_count_1m,
        "ttftSecondsSum": p.ttft_sum_1m,
        "ttftCount": p.completions_1m,
        "queueSecondsSum": p.queue_sum_1m,
        "queueCount": p.completions_1m,
    }
    return {k: v for k, v in out.items() if v is not None}


def snapshot_data(
    now_s: float,
    variants: Sequence[VariantLike],
    views: Sequence[VariantView],
    models: Sequence[ModelView],
    gpu_free: dict[str, int] | None,
) -> dict[str, Any]:
    """The snapshot JSON (camelCase) a controller would build at `now_s`, without config, VA status or state."""
    priority = {m.name: m.priority for m in models}
    model_ids: dict[str, str] = {}
    vas, targets, pod_rows, metrics = [], [], [], []
    for var, view in zip(variants, views, strict=True):
        prof = var.profile
        ns = var.model
        mid = model_ids.setdefault(ns, model_id_of(prof))
        vas.append(
            {
                "apiVersion": "llmd.ai/v1alpha1",
                "kind": "VariantAutoscaling",
                "metadata": {
                    "name": var.name,
                    "namespace": ns,
                    "labels": {ACCELERATOR_LABEL: prof.accelerator, SERVICE_CLASS_LABEL: ns},
                },
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": var.name},
                    "modelID": mid,
                    "variantCost": f"{var.cost_per_replica:.4f}",
                    "minReplicas": var.min_replicas,
                    "maxReplicas": var.max_replicas,
                    "priority": priority.get(ns, 100),
                },
            }
        )
        targets.append(
            {
                "namespace": ns,
                "name": var.name,
                "specReplicas": view.current,
                "statusReplicas": view.current + sum(1 for p in view.pods if p.draining),
                "readyReplicas": view.ready,
                "gpusPerReplica": prof.gpus,
                "vllmArgs": [
                    "--max-num-seqs",
                    str(prof.max_num_seqs),
                    "--max-num-batched-tokens",
                    str(prof.max_num_batched_tokens),
                ],
            }
        )
        for k in range(view.pending):
            pod_rows.append({"namespace": ns, "name": f"{var.name}-starting-{k}", "target": var.name, "ready": False})
        for p in view.pods:
            pod_row: dict[str, Any] = {"namespace": ns, "name": p.name, "target": var.name, "ready": p.ready}
            if p.created_s is not None and p.ready_s is not None:  # metadata.creationTimestamp, Ready condition
                pod_row["createdAt"] = iso(sim_time(p.created_s))
                pod_row["readyAt"] = iso(sim_time(p.ready_s))
            pod_rows.append(pod_row)
            if p.kv_max_1m is None or p.queue_max_1m is None:
                continue
            row: dict[str, Any] = {
                "namespace": ns,
                "modelName": mid,
                "pod": p.name,
                "kvCacheUsage": p.kv_max_1m,
                "queueLength": p.queue_max_1m,
                "numGpuBlocks": prof.num_gpu_blocks,  # vllm:cache_config_info
                "blockSize": prof.block_size,
            }
            if p.avg_input_tokens_5m is not None:
                row["avgInputTokens"] = p.avg_input_tokens_5m
            if p.avg_output_tokens_5m is not None:
                row["avgOutputTokens"] = p.avg_output_tokens_5m
            if p.arrival_rate_1m is not None:
                row["arrivalRate"] = p.arrival_rate_1m
            if p.running_avg_1m is not None:
                row["running"] = p.running_avg_1m
            row.update(_window_fields(p))
            metrics.append(row)
    data: dict[str, Any] = {
        "now": iso(sim_time(now_s)),
        "variantAutoscalings": vas,
        "scaleTargets": targets,
        "pods": pod_rows,
        "metrics": metrics,
        "requestCounts": [
            {"namespace": m.name, "modelName": model_ids[m.name], "count": m.requests_10m}
            for m in models
            if m.name in model_ids
        ],
        "flowControlQueues": [
            {"namespace": m.name, "modelName": model_ids[m.name], "size": float(m.gateway_queue)}
            for m in models
            if m.name in model_ids
        ],
    }
    if gpu_free is not None:
        data["gpuAvailable"] = {k: float(v) for k, v in gpu_free.items()}
    return data
