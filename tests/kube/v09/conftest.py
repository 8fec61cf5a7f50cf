"""Fixtures for the v0.9 tier: the ScaledObject and LeaderWorkerSet CRDs (structural schemas written here,
manifests/; the LWS one with the controller's extra rules for LWS targets, as the chart's extra rules), builders of
annotated HPAs (autoscaling/v2beta2: the local control plane is Kubernetes 1.20) and ScaledObjects, and a reader
whose KEDA discovery probe runs every half second."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, load_yaml, wait_for
from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeNotFound
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.scalers import keda_served
from wva_ray.adapters.kube.settings import KubeSettings

SO_CRD = Path(__file__).parent / "manifests" / "keda.sh_scaledobjects.yaml"
SO_CRD_NAME = "scaledobjects.keda.sh"
LWS_CRD = Path(__file__).parent / "manifests" / "leaderworkerset.x-k8s.io_leaderworkersets.yaml"
LWS_BASE = "/apis/leaderworkerset.x-k8s.io/v1"
HPA_BASE = "/apis/autoscaling/v2beta2"
SO_BASE = "/apis/keda.sh/v1alpha1"


def install_keda_crd(api: KubeApi) -> None:
    for doc in load_yaml(SO_CRD):
        apply(api, doc)
    wait_for(lambda: keda_served(api), 30, what="keda.sh/v1alpha1 scaledobjects served")


def remove_keda_crd(api: KubeApi) -> None:
    with contextlib.suppress(KubeNotFound):
        api.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{SO_CRD_NAME}")
    wait_for(lambda: not keda_served(api), 60, what="keda.sh/v1alpha1 scaledobjects gone")


@pytest.fixture
def keda_crd(admin_api: KubeApi) -> None:
    install_keda_crd(admin_api)


def _lws_served(api: KubeApi) -> bool:
    try:
        return "leaderworkersets/scale" in {r["name"] for r in api.get(LWS_BASE).get("resources", [])}
    except KubeNotFound:
        return False


def install_lws_crd(api: KubeApi) -> None:
    """The LWS CRD (structural, with a scale subresource; no LWS controller). The controller's role grants LWS
    access by default (operator/rbac/), so no extra rule is added here."""
    for doc in load_yaml(LWS_CRD):
        apply(api, doc)
    wait_for(lambda: _lws_served(api), 30, what="leaderworkerset.x-k8s.io/v1 leaderworkersets/scale served")


@pytest.fixture(scope="session")
def lws_crd(admin_api: KubeApi) -> None:
    install_lws_crd(admin_api)


def managed(model: str = "m1", cost: str | None = None, **extra: str) -> dict[str, str]:
    out = {"llm-d.ai/managed": "true", "llm-d.ai/model-id": model, **extra}
    if cost is not None:
        out["llm-d.ai/variant-cost"] = cost
    return out


def hpa(
    ns: str,
    name: str,
    target: str,
    annotations: dict[str, str],
    min_r: int = 1,
    max_r: int = 10,
    owner: JsonObj | None = None,
) -> JsonObj:
    """An autoscaling/v2beta2 HPA reading wva_desired_replicas as an External metric (as upstream's sample)."""
    meta: dict[str, Any] = {"name": name, "namespace": ns, "annotations": annotations}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min_r,
            "maxReplicas": max_r,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "wva_desired_replicas", "selector": {"matchLabels": {"variant_name": name}}},
                        "target": {"type": "AverageValue", "averageValue": "1"},
                    },
                }
            ],
        },
    }


def scaled_object(
    ns: str, name: str, target: str, annotations: dict[str, str], min_r: int | None = 1, max_r: int | None = 10
) -> JsonObj:
    """A ScaledObject with upstream's prometheus trigger on wva_desired_replicas (exported_namespace)."""
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": target},
        "triggers": [
            {
                "type": "prometheus",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": "http://prometheus:9090",
                    "query": f'wva_desired_replicas{{variant_name="{name}",exported_namespace="{ns}"}}',
                    "threshold": "1",
                    "activationThreshold": "0",
                },
            }
        ],
    }
    if min_r is not None:
        spec["minReplicaCount"] = min_r
    if max_r is not None:
        spec["maxReplicaCount"] = max_r
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": spec,
    }


def post(api: KubeApi, base: str, plural: str, doc: JsonObj) -> JsonObj:
    return api.post(f"{base}/namespaces/{doc['metadata']['namespace']}/{plural}", doc)


@pytest.fixture
def reader(controller_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet) -> Iterator[KubeReader]:
    r = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS))
    r.scalers.rediscover_after_s = 0.5
    r.start()
    yield r
    r.stop()
