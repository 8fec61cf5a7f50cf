"""GPU inventory and pod-template facts from Kubernetes objects (pure functions over JSON dicts, no I/O).

- ``gpu_available``: free GPUs per accelerator type = allocatable ``<vendor>/gpu`` of nodes labelled
  ``<vendor>/gpu.product`` minus GPU requests of every non-finished pod bound there (section 3.5).
- ``gpus_per_replica`` / ``vllm_args`` / ``template_accelerator``: facts from a workload's pod template.
Product names are normalised by ``wva_ray.core.accelerator`` (wva-behaviour.md 3.6).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from wva_ray.adapters.kube.templates import pod_template
from wva_ray.core.accelerator import normalize_accelerator

GPU_VENDORS = ("nvidia.com", "amd.com", "intel.com")
GPU_RESOURCES = tuple(f"{v}/gpu" for v in GPU_VENDORS)
PRODUCT_LABELS = tuple(f"{v}/gpu.product" for v in GPU_VENDORS)
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


def parse_quantity(value: object) -> float:
    """A Kubernetes resource quantity (``"2"``, ``"500m"``, ``"1Gi"``) as a number; raises naming the value."""
    text = str(value).strip()
    suffixes = {
        "m": Decimal("0.001"),
        "k": Decimal(10) ** 3,
        "M": Decimal(10) ** 6,
        "G": Decimal(10) ** 9,
        "T": Decimal(10) ** 12,
        "Ki": Decimal(2) ** 10,
        "Mi": Decimal(2) ** 20,
        "Gi": Decimal(2) ** 30,
        "Ti": Decimal(2) ** 40,
    }
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(Decimal(text[: -len(suffix)]) * suffixes[suffix])
            except InvalidOperation as exc:
                raise ValueError(f"resource quantity {value!r} is not a number") from exc
    try:
        return float(Decimal(text))
    except InvalidOperation as exc:
        raise ValueError(f"resource quantity {value!r} is not a number") from exc


def _container_gpus(container: Mapping[str, Any]) -> float:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    total = 0.0
    for name in GPU_RESOURCES:
        # Extended resources may be given as limits only; requests then default to the limit.
        value = requests.get(name, limits.get(name))
        if value is not None:
            total += parse_quantity(value)
    return total


def pod_spec_gpus(pod_spec: Mapping[str, Any]) -> float:
    """GPUs a pod spec requests: app containers summed, init containers as the max (Kubernetes rule)."""
    app = sum(_container_gpus(c) for c in pod_spec.get("containers") or [])
    init = max((_container_gpus(c) for c in pod_spec.get("initContainers") or []), default=0.0)
    return max(app, init)


def pod_template_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec.template.spec`` of a workload (Deployment, StatefulSet, ReplicaSet, ...; a LeaderWorkerSet's leader
    template, else its worker template, as ``templates.pod_template``); ``{}`` if absent."""
    spec = pod_template(workload).get("spec") or {}
    return spec if isinstance(spec, Mapping) else {}


def gpus_per_replica(workload: Mapping[str, Any]) -> int:
    """GPU requests of one replica (default 1 when the template requests none)."""
    gpus = pod_spec_gpus(pod_template_spec(workload))
    return max(1, math.ceil(gpus)) if gpus > 0 else 1


def vllm_args(workload: Mapping[str, Any]) -> list[str] | None:
    """Argument list of the vLLM container (named ``*vllm*``, else the one whose command mentions vllm)."""
    containers = list(pod_template_spec(workload).get("containers") or [])
    if not containers:
        return None

    def mentions_vllm(c: Mapping[str, Any]) -> bool:
        return "vllm" in str(c.get("name", "")).lower() or any("vllm" in str(x) for x in (c.get("command") or []))

    chosen = next((c for c in containers if mentions_vllm(c)), containers[0])
    command = [str(x) for x in chosen.get("command") or []]
    flags = command[next((i for i, x in enumerate(command) if x.startswith("--")), len(command)) :]
    args = flags + [str(x) for x in chosen.get("args") or []]
    return args or None


def template_accelerator(workload: Mapping[str, Any]) -> str | None:
    """Accelerator from the pod template's nodeSelector ``<vendor>/gpu.product`` (normalised)."""
    selector = pod_template_spec(workload).get("nodeSelector") or {}
    for label in PRODUCT_LABELS:
        if selector.get(label):
            return normalize_accelerator(str(selector[label]))
    return None


def node_accelerator(node: Mapping[str, Any]) -> tuple[str, float] | None:
    """(accelerator, allocatable GPUs) of a GPU node, or None for nodes without a product label."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    for vendor in GPU_VENDORS:
        product = labels.get(f"{vendor}/gpu.product")
        if product:
            return normalize_accelerator(str(product)), parse_quantity(allocatable.get(f"{vendor}/gpu", 0))
    return None


def gpu_available(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    node_selector: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Free GPUs per accelerator type over GPU nodes (optionally only nodes matching ``node_selector``)."""
    per_node: dict[str, tuple[str, float]] = {}
    for node in nodes:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        if node_selector and any(labels.get(k) != v for k, v in node_selector.items()):
            continue
        if meta.get("deletionTimestamp"):
            continue
        found = node_accelerator(node)
        if found is not None:
            per_node[str(meta.get("name"))] = found
    used: dict[str, float] = {}
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or node_name not in per_node:
            continue
        if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
            continue
        used[node_name] = used.get(node_name, 0.0) + pod_spec_gpus(pod.get("spec") or {})
    free: dict[str, int] = {}
    for name, (accelerator, allocatable) in per_node.items():
        free[accelerator] = free.get(accelerator, 0) + max(0, math.floor(allocatable - used.get(name, 0.0)))
    return free
