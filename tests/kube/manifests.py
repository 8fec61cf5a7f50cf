"""Apply YAML manifests and build test objects against the local API server (test helper, does API I/O)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeConflict, KubeNotFound

T = TypeVar("T")

# kind -> (API base, plural, namespaced) for the kinds the tests apply.
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "APIService": ("/apis/apiregistration.k8s.io/v1", "apiservices", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "VariantAutoscaling": ("/apis/llmd.ai/v1alpha1", "variantautoscalings", True),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2beta2", "horizontalpodautoscalers", True),
    "LeaderWorkerSet": ("/apis/leaderworkerset.x-k8s.io/v1", "leaderworkersets", True),
}


def object_path(doc: JsonObj) -> str:
    base, plural, namespaced = KINDS[doc["kind"]]
    meta = doc["metadata"]
    if namespaced:
        return f"{base}/namespaces/{meta.get('namespace', 'default')}/{plural}/{meta['name']}"
    return f"{base}/{plural}/{meta['name']}"


def collection_path(doc: JsonObj) -> str:
    return object_path(doc).rsplit("/", 1)[0]


def apply(api: KubeApi, doc: JsonObj) -> JsonObj:
    """Create, or replace the existing object (keeping its resourceVersion)."""
    try:
        return api.post(collection_path(doc), doc)
    except KubeConflict:
        current = api.get(object_path(doc))
        merged = {**doc, "metadata": {**doc["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}
        return api.put(object_path(doc), merged)


def load_yaml(path: Path) -> list[JsonObj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def apply_files(api: KubeApi, paths: Iterable[Path]) -> list[JsonObj]:
    return [apply(api, doc) for p in paths for doc in load_yaml(p)]


def delete(api: KubeApi, doc: JsonObj) -> None:
    with contextlib.suppress(KubeNotFound):
        api.delete(object_path(doc))


def wait_for(predicate: Callable[[], T | None], timeout_s: float = 30.0, poll_s: float = 0.2, what: str = "") -> T:
    """Poll until ``predicate`` returns a truthy value (bounded); fail naming what was awaited."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}: last={last!r}")


def deployment(
    namespace: str,
    name: str,
    replicas: int = 1,
    gpus: int = 1,
    product: str | None = None,
    args: list[str] | None = None,
) -> JsonObj:
    labels = {"app": name}
    pod_spec: JsonObj = {
        "containers": [
            {
                "name": "vllm",
                "image": "vllm/vllm-openai:fake",
                "args": args or ["--model", name, "--max-num-seqs", "256"],
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"nvidia.com/gpu": str(gpus)}},
            }
        ],
        "terminationGracePeriodSeconds": 0,
    }
    if product:
        pod_spec["nodeSelector"] = {"nvidia.com/gpu.product": product}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def variant_autoscaling(
    namespace: str,
    name: str,
    target: str,
    model_id: str = "m1",
    accelerator: str | None = "H100",
    labels: dict[str, str] | None = None,
    kind: str = "Deployment",
    **spec: Any,
) -> JsonObj:
    all_labels = dict(labels or {})
    if accelerator:
        all_labels["inference.optimization/acceleratorName"] = accelerator
    return {
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "modelID": model_id,
            **spec,
        },
    }
