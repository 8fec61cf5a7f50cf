"""Annotated scalers (WVA v0.9 discovery): HorizontalPodAutoscalers and KEDA ScaledObjects as the API server
returns them, and the annotation/label keys upstream reads from them. Pure data; no I/O.

Only the fields discovery needs are typed; everything else is kept (a snapshot holds the objects as
`kubectl get -o json` prints them). The value rules (model id present, cost a decimal >= 0, min <= max) are
not checked here but by `wva_ray.core.annotated`, so that one bad object is skipped with a reason instead of
invalidating the whole snapshot.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from wva_ray.api.base import LenientModel

# annotations on the scaler (upstream v0.9)
MANAGED_ANNOTATION = "llm-d.ai/managed"
MODEL_ID_ANNOTATION = "llm-d.ai/model-id"
VARIANT_COST_ANNOTATION = "llm-d.ai/variant-cost"
# pod-template labels of the scale target
VARIANT_LABEL = "llm-d.ai/variant"
ROLE_LABEL = "llm-d.ai/role"
# marks the in-memory VA built from a scaler (never persisted)
SYNTHETIC_LABEL = "llm-d.ai/synthetic"
# ours, on the in-memory VA: where it came from ("<Kind> <namespace>/<name>: <why>")
DISCOVERED_FROM_ANNOTATION = "wva-ray.llm-d.ai/discovered-from"
SCALER_KIND_ANNOTATION = "wva-ray.llm-d.ai/scaler-kind"

HPA_KIND = "HorizontalPodAutoscaler"
SCALED_OBJECT_KIND = "ScaledObject"
KEDA_GROUP = "keda.sh"
KEDA_VERSION = "v1alpha1"
SCALED_OBJECT_PLURAL = "scaledobjects"
HPA_GROUP_VERSIONS = ("autoscaling/v2", "autoscaling/v2beta2")
KEDA_DEFAULT_MAX_REPLICAS = 100  # KEDA's default maxReplicaCount
HPA_DEFAULT_MIN_REPLICAS = 1  # the HPA API's default minReplicas


class ScalerTargetRef(LenientModel):
    """CrossVersionObjectReference (HPA) / ScaleTarget (KEDA): kind and apiVersion are optional in KEDA."""

    api_version: str | None = None
    kind: str | None = None
    name: Annotated[str, Field(min_length=1)]


class ScalerSpec(LenientModel):
    """The fields of `spec` discovery reads; HPA and ScaledObject spellings side by side."""

    scale_target_ref: ScalerTargetRef
    # HPA
    min_replicas: int | None = None
    max_replicas: int | None = None
    # ScaledObject
    min_replica_count: int | None = None
    max_replica_count: int | None = None


class OwnerReference(LenientModel):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    controller: bool | None = None


class ScalerMeta(LenientModel):
    name: Annotated[str, Field(min_length=1)]
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)


class ScalerObject(LenientModel):
    """One HorizontalPodAutoscaler (autoscaling/v2 or v2beta2) or KEDA ScaledObject."""

    api_version: str
    kind: str
    metadata: ScalerMeta
    spec: ScalerSpec

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def is_scaled_object(self) -> bool:
        return self.kind == SCALED_OBJECT_KIND

    @property
    def managed(self) -> bool:
        return self.metadata.annotations.get(MANAGED_ANNOTATION) == "true"

    def describe(self) -> str:
        return f"{self.kind} {self.key}"


def keda_owner(obj: ScalerObject) -> str | None:
    """The ScaledObject that owns this HPA (KEDA creates one per ScaledObject), if any."""
    for ref in obj.metadata.owner_references:
        if ref.kind == SCALED_OBJECT_KIND and ref.api_version.split("/")[0] == KEDA_GROUP:
            return ref.name
    return None


def scaler_dict(obj: ScalerObject) -> dict[str, Any]:
    """The object as the API server stores it (camelCase, no None values)."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
