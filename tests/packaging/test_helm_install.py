"""A real `helm install` / `upgrade` / `uninstall` of the chart against the local control plane (kube-apiserver
1.20, kube-controller-manager, scheduler and the fake kubelet of tests/kube, which marks scheduled pods Ready;
no container runs). Proves Helm's own path: CRDs from the chart's crds/, the HPA version chosen from the real
server version, `--wait` on the Deployment, upgrades reaching the ConfigMaps, uninstall keeping the CRD."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.cluster import ClusterInfo
from tests.kube.fake_kubelet import FakeKubelet
from tests.packaging.tools import CHART, Run, helm, kubectl

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _helm(kubeconfig: Path, *args: str) -> Run:
    return helm(*args, "--kubeconfig", str(kubeconfig))


def _get(kubeconfig: Path, *args: str) -> dict[str, Any]:
    result = kubectl(kubeconfig, "get", *args, "-o", "json")
    assert result.ok, result.describe()
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def release(kube_cluster: ClusterInfo, fake_kubelet: FakeKubelet, tmp_path: Path) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    names = {"release": f"w{suffix}", "ns": f"wva-{suffix}", "model_ns": f"llm-{suffix}"}
    result = kubectl(kube_cluster.kubeconfig, "create", "namespace", names["model_ns"])
    assert result.ok, result.describe()
    yield names
    _helm(kube_cluster.kubeconfig, "uninstall", names["release"], "-n", names["ns"], "--wait", "--timeout", "60s")


def test_install_upgrade_uninstall(kube_cluster: ClusterInfo, release: dict[str, str], tmp_path: Path) -> None:
    kc, name, ns, model_ns = kube_cluster.kubeconfig, release["release"], release["ns"], release["model_ns"]
    variant = {
        "name": "v-h100",
        "namespace": model_ns,
        "modelID": "m1",
        "accelerator": "H100",
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-h100"},
    }
    values = {
        "variants": [variant],
        "hpa": {"enabled": True},
        "controller": {"resources": {"requests": {"cpu": "10m"}}},
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    installed = _helm(
        kc, "install", name, str(CHART), "-n", ns, "--create-namespace", "-f", str(values_file),
        "--wait", "--timeout", "120s",
    )  # fmt: skip
    assert installed.ok, installed.describe()

    crd = _get(kc, "crd", "variantautoscalings.llmd.ai")
    assert crd["spec"]["group"] == "llmd.ai"
    deployment = _get(kc, "deployment", f"{name}-wva-ray", "-n", ns)
    assert deployment["status"].get("availableReplicas") == 1
    manifest = _helm(kc, "get", "manifest", name, "-n", ns)
    assert manifest.ok, manifest.describe()
    (hpa_doc,) = [d for d in yaml.safe_load_all(manifest.stdout) if d and d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa_doc["apiVersion"] == "autoscaling/v2beta2", "the chart must pick v2beta2 on a 1.20 server"
    raw = kubectl(
        kc, "get", "--raw", f"/apis/autoscaling/v2beta2/namespaces/{model_ns}/horizontalpodautoscalers/v-h100"
    )
    assert raw.ok, raw.describe()
    hpa = json.loads(raw.stdout)
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "wva_desired_replicas"
    va = _get(kc, "variantautoscalings.llmd.ai", "v-h100", "-n", model_ns)
    assert va["spec"]["variantCost"] == "10.0"
    cm = _get(kc, "configmap", "wva-saturation-scaling-config", "-n", ns)
    assert yaml.safe_load(cm["data"]["default"])["kvCacheThreshold"] == 0.8

    upgraded = _helm(
        kc, "upgrade", name, str(CHART), "-n", ns, "-f", str(values_file),
        "--set-json", "saturation.default.kvCacheThreshold=0.7", "--wait", "--timeout", "120s",
    )  # fmt: skip
    assert upgraded.ok, upgraded.describe()
    cm = _get(kc, "configmap", "wva-saturation-scaling-config", "-n", ns)
    assert yaml.safe_load(cm["data"]["default"])["kvCacheThreshold"] == 0.7

    removed = _helm(kc, "uninstall", name, "-n", ns, "--wait", "--timeout", "60s")
    assert removed.ok, removed.describe()
    gone = kubectl(kc, "get", "deployment", f"{name}-wva-ray", "-n", ns)
    assert not gone.ok and "NotFound" in gone.stderr
    assert _get(kc, "crd", "variantautoscalings.llmd.ai")["metadata"]["name"] == "variantautoscalings.llmd.ai"
