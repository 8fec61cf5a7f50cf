"""Small builders for snapshots in tests: one line per variant instead of forty lines of JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wva_ray.api.snapshot import Snapshot

NOW = "2026-11-27T12:00:00Z"


@dataclass
class V:
    """One variant: its VA, its target and its pods' (kv, queue) signals."""

    name: str
    pods: list[tuple[float, float]] = field(default_factory=list)
    model: str = "m1"
    namespace: str = "llm"
    cost: str = "10"
    accelerator: str | None = "H100"
    current: int | None = None  # default: number of pods
    ready: int | None = None
    desired: int | None = None  # previous status desired
    since: str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    priority: int | None = None
    gpus: int = 1
    target: str | None = None  # default: same as name
    kv_tokens: int | None = None  # V2: num_gpu_blocks*block_size (block_size 16)
    avg_in: float | None = None
    avg_out: float | None = None
    vllm_args: list[str] | None = None
    with_target: bool = True
    arrival_rate: float | None = None  # analyzer slo: req/s per pod

    def va(self) -> dict[str, Any]:
        labels = {"inference.optimization/acceleratorName": self.accelerator} if self.accelerator else {}
        spec: dict[str, Any] = {
            "scaleTargetRef": {"kind": "Deployment", "name": self.target or self.name},
            "modelID": self.model,
            "variantCost": self.cost,
        }
        if self.min_replicas is not None:
            spec["minReplicas"] = self.min_replicas
        if self.max_replicas is not None:
            spec["maxReplicas"] = self.max_replicas
        if self.priority is not None:
            spec["priority"] = self.priority
        out: dict[str, Any] = {
            "apiVersion": "llmd.ai/v1alpha1",
            "kind": "VariantAutoscaling",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels},
            "spec": spec,
        }
        if self.desired is not None:
            alloc: dict[str, Any] = {"numReplicas": self.desired, "accelerator": self.accelerator or "H100"}
            if self.since:
                alloc["sinceTime"] = self.since
            out["status"] = {"desiredOptimizedAlloc": alloc}
        return out

    def scale_target(self) -> dict[str, Any]:
        current = len(self.pods) if self.current is None else self.current
        ready = current if self.ready is None else self.ready
        t: dict[str, Any] = {
            "kind": "Deployment",
            "namespace": self.namespace,
            "name": self.target or self.name,
            "specReplicas": current,
            "statusReplicas": current,
            "readyReplicas": ready,
            "gpusPerReplica": self.gpus,
        }
        if self.vllm_args is not None:
            t["vllmArgs"] = self.vllm_args
        return t

    def pod_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pods, metrics = [], []
        for i, (kv, q) in enumerate(self.pods):
            pod = f"{self.name}-{i}"
            pods.append({"namespace": self.namespace, "name": pod, "target": self.target or self.name, "ready": True})
            row: dict[str, Any] = {
                "namespace": self.namespace,
                "modelName": self.model,
                "pod": pod,
                "kvCacheUsage": kv,
                "queueLength": q,
            }
            if self.kv_tokens is not None:
                row["numGpuBlocks"] = self.kv_tokens // 16
                row["blockSize"] = 16
            if self.avg_in is not None:
                row["avgInputTokens"] = self.avg_in
            if self.avg_out is not None:
                row["avgOutputTokens"] = self.avg_out
            if self.arrival_rate is not None:
                row["arrivalRate"] = self.arrival_rate
            metrics.append(row)
        return pods, metrics


def snapshot_dict(*variants: V, **extra: Any) -> dict[str, Any]:
    pods: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for v in variants:
        p, m = v.pod_rows()
        pods += p
        metrics += m
    seen: set[tuple[str, str]] = set()
    targets = []
    for v in variants:
        t = v.scale_target()
        if v.with_target and (t["namespace"], t["name"]) not in seen:
            seen.add((t["namespace"], t["name"]))
            targets.append(t)
    data: dict[str, Any] = {
        "now": NOW,
        "variantAutoscalings": [v.va() for v in variants],
        "scaleTargets": targets,
        "pods": pods,
        "metrics": metrics,
    }
    data.update(extra)
    return data


def snapshot(*variants: V, **extra: Any) -> Snapshot:
    return Snapshot.model_validate(snapshot_dict(*variants, **extra))


def saturation(**default: Any) -> dict[str, Any]:
    return {"saturation": {"default": default}}
