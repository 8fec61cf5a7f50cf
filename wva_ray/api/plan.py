"""The output of the decision pipeline (`wva-ray plan`, the coordinator's publish step). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from wva_ray.api.base import WireModel
from wva_ray.api.snapshot import DecisionState
from wva_ray.api.va import ConditionStatus


class Action(StrEnum):
    SCALE_UP = "scale-up"
    SCALE_DOWN = "scale-down"
    NO_CHANGE = "no-change"


class PlanCondition(WireModel):
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


class DecisionSource(WireModel):
    """Ours: where a variant came from when it is not a VariantAutoscaling object (annotation discovery)."""

    kind: str  # HorizontalPodAutoscaler | ScaledObject
    reason: str


@dataclass(frozen=True, slots=True)
class VariantTelemetry:
    """Ours: what the pipeline did for one variant, for the v0.9 `wva_*` metrics (adapters.v09_metrics). Never in
    a plan's JSON (`Decision.telemetry` is excluded); None/"" where the analyzer or signal has no such value."""

    unit: str = ""  # the capacity unit of the analyzer that sized the group ("" none: no spare/required series)
    required: float | None = None  # the group's (role's) capacity still required, in `unit`
    spare: float | None = None
    kv_tokens_used: float | None = None  # over the variant's live pods
    kv_tokens_capacity: float | None = None
    utilization: float | None = None  # mean KV usage of the live pods
    enforcer_policy: str = ""  # scale_to_zero | minimum_replicas: the enforcer set this variant's target
    limiter_name: str = ""  # set when global allocation limited the variant
    pods_fresh: int = 0
    pods_stale: int = 0
    pods_missing: int = 0
    pods_unavailable: int = 0  # the metrics source failed: every ready pod
    # the same on every decision of one plan (the global `default` entry)
    analyzer_name: str = ""
    limiter_enabled: bool = False
    scale_to_zero_enabled: bool = False
    kv_spare_threshold: float = 0.0
    queue_spare_threshold: float = 0.0
    gpu_discovery: int = -1  # 1 the GPU inventory was read, 0 it failed, -1 not read (no limiter)
    gpus_available: tuple[tuple[str, float], ...] = ()  # free GPUs per accelerator type, when read


class Decision(WireModel):
    namespace: str
    name: str
    model_id: str = Field(alias="modelID")
    accelerator: str
    current_replicas: int
    desired_replicas: int
    action: Action
    reason: str
    steps: list[str] = Field(default_factory=list)
    conditions: list[PlanCondition] = Field(default_factory=list)
    # ours
    analyzer: str = ""
    priority: int = 100
    gpus_per_replica: int = 1
    limited: bool = False
    held: bool = False  # the value was held (missing metrics, invalid input, conflict): not acted on
    publish: bool = True  # false when no gauge may be emitted (no accelerator, conflict)
    source: DecisionSource | None = None  # absent for a VariantAutoscaling; omitted from the output then
    telemetry: VariantTelemetry | None = Field(default=None, exclude=True)  # for the metrics only; never output

    @model_serializer(mode="wrap")
    def _omit_absent_source(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("source", 0) is None:
            del data["source"]
        return data

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class Plan(WireModel):
    decisions: list[Decision]
    warnings: list[str] = Field(default_factory=list)
    state: DecisionState = Field(default_factory=DecisionState)

    def by_key(self) -> dict[str, Decision]:
        return {d.key: d for d in self.decisions}
