"""Everything the chart renders, applied with `kubectl apply --dry-run=server` against the local kube-apiserver
(1.20, from tests/kube/conftest.py): built-in kinds and our VariantAutoscaling (its CRD installed from crds/).
Kinds whose CRDs do not exist there (RayService, ServiceMonitor, PodMonitor, ScaledObject) cannot be
validated by the server; the RayService's head pod template is validated as a Pod instead, and the others
are checked structurally in test_chart_render.py."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.kube.cluster import ClusterInfo
from tests.packaging.test_chart_render import ALL_OPTIONAL, RAYSERVICE, VARIANTS
from tests.packaging.tools import Doc, api_group, dry_run_server, is_builtin, kubectl, one, render

pytestmark = pytest.mark.integration

KUBE_VERSION = "1.20.2"
NOT_SERVED_HERE = {"ray.io", "monitoring.coreos.com", "keda.sh"}


@pytest.fixture
def namespaces(kube_cluster: ClusterInfo) -> list[str]:
    """A release namespace and a model namespace, created for real (dry runs need them to exist)."""
    names = [f"pkg-{uuid.uuid4().hex[:6]}", f"llm-{uuid.uuid4().hex[:6]}"]
    for name in names:
        result = kubectl(kube_cluster.kubeconfig, "create", "namespace", name)
        assert result.ok, result.describe()
    return names


def _retarget(values: dict[str, Any], model_ns: str) -> dict[str, Any]:
    variants = [{**v, "namespace": model_ns} if "namespace" in v else v for v in values.get("variants", [])]
    return {**values, "variants": variants} if variants else values


def _head_as_pod(docs: list[Doc], namespace: str) -> Doc:
    template = one(docs, "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ray-head-check", "namespace": namespace, **template["metadata"]},
        "spec": template["spec"],
    }


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="defaults"),
        pytest.param(ALL_OPTIONAL, id="all-optional"),
        pytest.param(RAYSERVICE, id="rayservice"),
        pytest.param({**RAYSERVICE, **ALL_OPTIONAL}, id="rayservice-all-optional"),
        pytest.param({"rbac": {"scope": "namespace"}, "controller": {"watchNamespace": "WATCH"}}, id="namespace-scope"),
    ],
)
def test_rendered_chart_passes_server_dry_run(
    kube_cluster: ClusterInfo, va_crd: Path, namespaces: list[str], values: dict[str, Any], tmp_path: Path
) -> None:
    release_ns, model_ns = namespaces
    values = _retarget(values, model_ns)
    if values.get("controller", {}).get("watchNamespace") == "WATCH":
        values = {**values, "controller": {**values["controller"], "watchNamespace": model_ns}}
    docs = render(values, namespace=release_ns, kube_version=KUBE_VERSION)
    checkable = [d for d in docs if is_builtin(d) or api_group(d) == "llmd.ai"]
    skipped = {d["kind"] for d in docs if api_group(d) in NOT_SERVED_HERE}
    assert {api_group(d) for d in docs} - {api_group(d) for d in checkable} <= NOT_SERVED_HERE
    if "RayService" in skipped:
        checkable.append(_head_as_pod(docs, release_ns))
    result = dry_run_server(kube_cluster.kubeconfig, checkable, tmp_path)
    assert result.ok, result.describe()
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(checkable), result.describe()


def test_dry_run_catches_a_broken_manifest(kube_cluster: ClusterInfo, namespaces: list[str], tmp_path: Path) -> None:
    """The check above can fail: a field the API does not know is refused."""
    docs = render(namespace=namespaces[0], kube_version=KUBE_VERSION)
    deployment = one(docs, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["bogusField"] = 1
    result = dry_run_server(kube_cluster.kubeconfig, [deployment], tmp_path)
    assert not result.ok
    assert "bogusField" in result.stderr


def test_hpa_v2_renders_the_same_fields_as_v2beta2(
    kube_cluster: ClusterInfo, namespaces: list[str], tmp_path: Path
) -> None:
    """autoscaling/v2 is not served by 1.20; its HPA spec is field-for-field the v2beta2 one, so the v2
    rendering re-labelled as v2beta2 must pass the server (this validates every field but the version)."""
    values = _retarget({"variants": VARIANTS, "hpa": {"enabled": True}}, namespaces[1])
    v2 = [
        d
        for d in render(values, namespace=namespaces[0], kube_version="1.30.0")
        if d["kind"] == "HorizontalPodAutoscaler"
    ]
    assert {d["apiVersion"] for d in v2} == {"autoscaling/v2"}
    as_v2beta2 = [{**d, "apiVersion": "autoscaling/v2beta2"} for d in v2]
    result = dry_run_server(kube_cluster.kubeconfig, as_v2beta2, tmp_path)
    assert result.ok, result.describe()
