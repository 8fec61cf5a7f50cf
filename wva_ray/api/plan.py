"""The output of the decision pipeline (`wva-ray plan`, the coordinator's publish step). No I/O."""

from __future__ import annotations

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
