"""What the Kubernetes reader read for one cycle: ``ClusterState`` (VAs, their resolved scale targets, pods,
ConfigMaps, GPU inventory) and ``ScaleTargetObject`` (one target's scale subresource and workload object).
Frozen values; no I/O. ``ClusterState.snapshot()`` turns one into the core's ``Snapshot``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from wva_ray.adapters.kube.client import JsonObj
from wva_ray.adapters.kube.discovery import ResourceType
from wva_ray.adapters.kube.scalers import AnnotatedState
from wva_ray.adapters.kube.selectors import LabelSelector, parse_selector
from wva_ray.api.snapshot import (
    DecisionState,
    FlowControlQueue,
    Pod,
    PodMetrics,
    RequestCount,
    ScaleTarget,
    Snapshot,
    SnapshotConfig,
)
from wva_ray.api.va import VariantAutoscaling


@dataclass(frozen=True)
class ScaleTargetObject:
    """A VA's scale target as read this cycle: where it lives, its scale subresource, its workload object."""

    resource: ResourceType
    namespace: str
    name: str
    scale: JsonObj
    workload: JsonObj

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.resource.group_version, self.resource.kind, self.namespace, self.name)

    @property
    def scale_path(self) -> str:
        return self.resource.scale_path(self.namespace, self.name)

    @property
    def spec_replicas(self) -> int:
        return int((self.scale.get("spec") or {}).get("replicas", 0))

    @property
    def selector(self) -> LabelSelector:
        return parse_selector(str((self.scale.get("status") or {}).get("selector", "")))


@dataclass(frozen=True)
class ClusterState:
    """Everything the adapter read for one cycle; ``snapshot()`` adds the metrics rows."""

    variant_autoscalings: tuple[VariantAutoscaling, ...]
    raw_variant_autoscalings: Mapping[str, JsonObj]
    targets: Mapping[str, ScaleTargetObject]  # VA key -> target; unresolved VAs are absent
    target_errors: Mapping[str, str]  # VA key -> why its target is not resolved
    invalid_variant_autoscalings: Mapping[str, str]  # VA key -> validation error (not in the snapshot)
    scale_targets: tuple[ScaleTarget, ...]
    pods: tuple[Pod, ...]
    config: SnapshotConfig
    gpu_available: dict[str, float] | None
    gpu_inventory_error: str | None = None
    target_pods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # VA key -> live pod names
    annotated: AnnotatedState = field(default_factory=AnnotatedState)  # v0.9 annotated HPAs / ScaledObjects

    def snapshot(
        self,
        now: datetime,
        *,
        metrics: Sequence[PodMetrics] = (),
        request_counts: Sequence[RequestCount] = (),
        flow_control_queues: Sequence[FlowControlQueue] = (),
        metrics_error: str | None = None,
        state: DecisionState | None = None,
    ) -> Snapshot:
        return Snapshot(
            now=now,
            config=self.config,
            variant_autoscalings=list(self.variant_autoscalings),
            scale_targets=list(self.scale_targets),
            pods=list(self.pods),
            metrics=list(metrics),
            request_counts=list(request_counts),
            gpu_available=self.gpu_available,
            metrics_error=metrics_error,
            gpu_inventory_error=self.gpu_inventory_error,
            flow_control_queues=list(flow_control_queues),
            scalers=list(self.annotated.scalers),
            state=state or DecisionState(),
        )
