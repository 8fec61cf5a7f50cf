"""The input of `wva-ray plan`: one recorded cluster state (../shared/spec/snapshot-format.md). No I/O.

Unknown keys are errors (the message names the key path). Optional keys marked "ours" extend the documented
format; a snapshot without them means exactly what the documented format says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from wva_ray.api.base import WireModel
from wva_ray.api.scaler import ScalerObject
from wva_ray.api.va import VariantAutoscaling


class NamespaceConfig(WireModel):
    """Ours: the namespace-local ConfigMaps (same names, in the VA's namespace)."""

    saturation: dict[str, Any] = Field(default_factory=dict)
    scale_to_zero: dict[str, Any] = Field(default_factory=dict)


class SnapshotConfig(WireModel):
    """The data of the two global ConfigMaps; each value an object or a YAML string."""

    saturation: dict[str, Any] = Field(default_factory=dict)
    scale_to_zero: dict[str, Any] = Field(default_factory=dict)
    # ours
    namespaces: dict[str, NamespaceConfig] = Field(default_factory=dict)
    scale_to_zero_fallback: bool = False  # env WVA_SCALE_TO_ZERO, read by the adapter, not by the core
    service_classes: dict[str, Any] = Field(default_factory=dict)  # ConfigMap service-classes-config (analyzer slo)
    slo_profiles: dict[str, Any] = Field(default_factory=dict)  # ConfigMap wva-slo-profiles (analyzer slo)
    # WVA v0.9 ConfigMap wva-queueing-model-config (mapped onto analyzer slo: core.v09_queueing)
    queueing_model: dict[str, Any] = Field(default_factory=dict)
    # ours: entries of `saturation`/`scaleToZero` (and the namespaces') that the controller replaced by their last
    # valid version because the ConfigMap now holds an invalid one; one line each, reported as a plan warning
    kept_entries: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _omit_empty_optional(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A snapshot without the v0.9 queueing-model ConfigMap or kept entries serialises exactly as before the
        keys existed."""
        data: dict[str, Any] = handler(self)
        for name, alias in (("queueing_model", "queueingModel"), ("kept_entries", "keptEntries")):
            if not getattr(self, name):
                data.pop(alias, None)
                data.pop(name, None)
        return data

    @field_validator("saturation", "scale_to_zero")
    @classmethod
    def _values_are_yaml_or_objects(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, entry in value.items():
            if not isinstance(entry, str | dict) and entry is not None:
                raise ValueError(f"entry {key!r} must be a YAML string or an object, got {type(entry).__name__}")
        return value


class ScaleTarget(WireModel):
    api_version: str = "apps/v1"
    kind: str = "Deployment"
    namespace: str
    name: str
    spec_replicas: int | None = None
    status_replicas: int = 0
    ready_replicas: int = 0
    gpus_per_replica: int = 1
    vllm_args: list[str] = Field(default_factory=list)
    # ours
    node_selector: dict[str, str] = Field(default_factory=dict)
    deleting: bool = False
    # ours (annotation discovery): required nodeAffinity `In` terms (key -> values) and the pod template's labels
    # (for a LeaderWorkerSet: the leader template's)
    node_affinity: dict[str, list[str]] = Field(default_factory=dict)
    pod_labels: dict[str, str] = Field(default_factory=dict)


class Pod(WireModel):
    namespace: str
    name: str
    target: str
    ready: bool = True
    # ours (annotation discovery): a live pod in a namespace with managed scalers that maps to none of them;
    # `target` is then "" and this says why (counted as `wva_pod_mapping_miss_total{reason}`)
    miss_reason: str | None = None
    # ours (analyzer learned): pod creation and Ready transition times, for the start-up delay
    created_at: datetime | None = None
    ready_at: datetime | None = None


class PodMetrics(WireModel):
    """One pod's signals over the last minute (kv and queue: 1 m peak) and, for analyzer V2, its KV geometry."""

    namespace: str
    model_name: str
    pod: str
    kv_cache_usage: float
    queue_length: float
    num_gpu_blocks: int | None = None
    block_size: int | None = None
    avg_input_tokens: float | None = None
    avg_output_tokens: float | None = None
    # ours: the collector marks samples older than its bound; a stale row is dropped like a missing one.
    stale: bool = False
    # ours (analyzer slo): request arrival rate (req/s) and running batch, when the collector has them.
    arrival_rate: float | None = None
    running: float | None = None
    # ours (analyzer learned, docs/analyzers/learned.md): the pod's window of vLLM series. Gauges as means over
    # the window (and the waiting count now); counters and histogram _sum/_count as increases over it.
    window_seconds: float | None = Field(default=None, gt=0)
    running_mean: float | None = None
    kv_usage_mean: float | None = None
    waiting_now: float | None = None
    completions: float | None = None  # vllm:request_success_total
    prompt_tokens: float | None = None  # vllm:prompt_tokens_total
    generation_tokens: float | None = None  # vllm:generation_tokens_total
    itl_seconds_sum: float | None = None  # vllm:inter_token_latency_seconds
    itl_count: float | None = None
    ttft_seconds_sum: float | None = None  # vllm:time_to_first_token_seconds
    ttft_count: float | None = None
    queue_seconds_sum: float | None = None  # vllm:request_queue_time_seconds
    queue_count: float | None = None
    prefill_seconds_sum: float | None = None  # vllm:request_prefill_time_seconds
    prefill_count: float | None = None


class RequestCount(WireModel):
    namespace: str
    model_name: str
    count: float


class FlowControlQueue(WireModel):
    """Ours: `inference_extension_flow_control_queue_size` per model (scale-from-zero)."""

    namespace: str | None = None
    model_name: str
    size: float


class DecisionState(WireModel):
    """Ours: state carried from one cycle to the next (the V2 capacity history)."""

    capacity_history: dict[str, list[float]] = Field(default_factory=dict)
    slo: dict[str, dict[str, Any]] = Field(default_factory=dict)  # analyzer slo, per "namespace/modelID"
    learned: dict[str, dict[str, Any]] = Field(default_factory=dict)  # analyzer learned, per "namespace/modelID"

    @model_serializer(mode="wrap")
    def _omit_empty_learned(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A plan or snapshot that never ran analyzer `learned` serialises exactly as before it existed."""
        data: dict[str, Any] = handler(self)
        if not self.learned:
            data.pop("learned", None)
        return data


class Snapshot(WireModel):
    now: datetime
    config: SnapshotConfig = Field(default_factory=SnapshotConfig)
    variant_autoscalings: list[VariantAutoscaling] = Field(default_factory=list)
    scale_targets: list[ScaleTarget] = Field(default_factory=list)
    pods: list[Pod] = Field(default_factory=list)
    metrics: list[PodMetrics] = Field(default_factory=list)
    request_counts: list[RequestCount] = Field(default_factory=list)
    gpu_available: dict[str, float] | None = None
    # ours
    metrics_error: str | None = None  # the metrics source failed this cycle (Prometheus down, ...)
    # the metrics source answered with warnings (Prometheus' `warnings`: a partial answer of a federated or
    # sharded Prometheus, ...): decisions go on, the MetricsAvailable condition says so
    metrics_warnings: list[str] = Field(default_factory=list)
    gpu_inventory_error: str | None = None  # the GPU inventory could not be read
    flow_control_queues: list[FlowControlQueue] = Field(default_factory=list)
    state: DecisionState = Field(default_factory=DecisionState)
    # ours (WVA v0.9 annotation discovery): HPAs and ScaledObjects as the API server returns them; each managed one
    # becomes a variant named after the scaler (wva_ray.core.annotated)
    scalers: list[ScalerObject] = Field(default_factory=list)
