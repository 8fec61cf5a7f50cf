"""The VariantAutoscaling resource, `llmd.ai/v1alpha1`, as upstream WVA defines it plus our optional fields.

Pure data; no I/O. `wva-ray crd` renders crds/ from these models (see `wva_ray.api.crd`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from wva_ray.api.base import LenientModel, WireModel

GROUP = "llmd.ai"
VERSION = "v1alpha1"
KIND = "VariantAutoscaling"
PLURAL = "variantautoscalings"
SINGULAR = "variantautoscaling"
SHORT_NAME = "va"

ACCELERATOR_LABEL = "inference.optimization/acceleratorName"
CONTROLLER_INSTANCE_LABEL = "wva.llmd.ai/controller-instance"
EXCLUDE_ANNOTATION = "wva.llmd.ai/exclude"
COST_PATTERN = r"^\d+(\.\d+)?$"
DEFAULT_COST = "10.0"
DEFAULT_PRIORITY = 100


class ConditionType(StrEnum):
    TARGET_RESOLVED = "TargetResolved"
    METRICS_AVAILABLE = "MetricsAvailable"
    OPTIMIZATION_READY = "OptimizationReady"
    TARGET_CONFLICT = "TargetConflict"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ScaleTargetRef(WireModel):
    """autoscaling/v1 CrossVersionObjectReference."""

    api_version: str | None = None
    kind: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]


class VariantAutoscalingSpec(WireModel):
    """The VA spec.

    Structure (types, required keys) is enforced when parsing. Value rules (the cost pattern, ranges, min <= max)
    are declared here for the CRD schema but checked by the core (`wva_ray.core.variants`), so that one bad VA
    becomes an `InvalidConfiguration` decision instead of stopping the loop (wva-behaviour.md section 1).
    """

    scale_target_ref: ScaleTargetRef
    model_id: Annotated[str, Field(alias="modelID", min_length=1)]
    variant_cost: Annotated[str, Field(json_schema_extra={"pattern": COST_PATTERN})] = DEFAULT_COST
    # ours (optional; absent means the model-level rules of wva-behaviour.md 3.4)
    min_replicas: Annotated[int | None, Field(json_schema_extra={"minimum": 0})] = None
    max_replicas: Annotated[int | None, Field(json_schema_extra={"minimum": 1})] = None
    priority: Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 1000})] = DEFAULT_PRIORITY


class DesiredOptimizedAlloc(WireModel):
    num_replicas: Annotated[int, Field(ge=0)]
    accelerator: Annotated[str, Field(min_length=2)]
    last_run_time: datetime | None = None
    # ours: when num_replicas first took its current value (the V1 transition lock's clock).
    since_time: datetime | None = None


class Actuation(WireModel):
    applied: bool = False


class Condition(WireModel):
    """metav1.Condition."""

    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None
    observed_generation: int | None = None


class VariantAutoscalingStatus(WireModel):
    desired_optimized_alloc: DesiredOptimizedAlloc | None = None
    actuation: Actuation | None = None
    conditions: list[Condition] = Field(default_factory=list)


class ObjectMeta(LenientModel):
    """Kubernetes ObjectMeta: name and namespace are what we need; the rest is passed through untouched."""

    name: Annotated[str, Field(min_length=1)]
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    resource_version: str | None = None
    uid: str | None = None


class VariantAutoscaling(WireModel):
    api_version: str = f"{GROUP}/{VERSION}"
    kind: str = KIND
    metadata: ObjectMeta
    spec: VariantAutoscalingSpec
    status: VariantAutoscalingStatus | None = None

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"


def condition_dict(cond: Condition) -> dict[str, Any]:
    """A condition as the API server stores it (camelCase, no None values)."""
    return cond.model_dump(mode="json", by_alias=True, exclude_none=True)
