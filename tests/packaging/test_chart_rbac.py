"""The chart's RBAC, applied for real to the local kube-apiserver (RBAC authorizer on), grants the controller's
ServiceAccount what the controller does and nothing it does not: checked with `kubectl auth can-i --as`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.cluster import ClusterInfo
from tests.packaging.tools import Doc, by_kind, kubectl, render

pytestmark = pytest.mark.integration

RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def _apply(kubeconfig: Path, docs: list[Doc], workdir: Path) -> None:
    path = workdir / "apply.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    result = kubectl(kubeconfig, "apply", "-f", path)
    assert result.ok, result.describe()


def _can(kubeconfig: Path, sa: str, verb: str, resource: str, *flags: str) -> bool:
    result = kubectl(kubeconfig, "auth", "can-i", verb, resource, f"--as={sa}", *flags)
    answer = result.stdout.strip()
    assert answer in {"yes", "no"}, result.describe()
    return answer == "yes"


def _install(kube_cluster: ClusterInfo, workdir: Path, values: dict[str, Any]) -> dict[str, Any]:
    """The chart's ServiceAccount and RBAC applied in fresh namespaces; returns names for the checks."""
    suffix = uuid.uuid4().hex[:6]
    release_ns, model_ns, other_ns = f"wva-{suffix}", f"llm-{suffix}", f"other-{suffix}"
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in (release_ns, model_ns, other_ns)
    ]
    _apply(kube_cluster.kubeconfig, namespaces, workdir)
    if values.get("controller", {}).get("watchNamespace") == "MODEL":
        values = {**values, "controller": {**values["controller"], "watchNamespace": model_ns}}
    docs = [d for d in render(values, release=f"r{suffix}", namespace=release_ns) if d["kind"] in RBAC_KINDS]
    _apply(kube_cluster.kubeconfig, docs, workdir)
    (sa,) = by_kind(docs, "ServiceAccount")
    return {
        "sa": f"system:serviceaccount:{release_ns}:{sa['metadata']['name']}",
        "release_ns": release_ns,
        "model_ns": model_ns,
        "other_ns": other_ns,
    }


@pytest.fixture(scope="module")
def installed(kube_cluster: ClusterInfo, va_crd: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _install(kube_cluster, tmp_path_factory.mktemp("rbac"), {})


@pytest.fixture(scope="module")
def installed_ns_scope(
    kube_cluster: ClusterInfo, va_crd: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    values = {"rbac": {"scope": "namespace"}, "controller": {"watchNamespace": "MODEL"}}
    return _install(kube_cluster, tmp_path_factory.mktemp("rbac-ns"), values)


@pytest.mark.parametrize(
    ("verb", "resource", "flags", "expected"),
    [
        pytest.param("list", "variantautoscalings.llmd.ai", ["-A"], True, id="list-vas-everywhere"),
        pytest.param("watch", "variantautoscalings.llmd.ai", ["-A"], True, id="watch-vas"),
        pytest.param(
            "patch", "variantautoscalings.llmd.ai", ["--subresource=status", "-n", "default"], True, id="patch-status"
        ),
        pytest.param("patch", "variantautoscalings.llmd.ai", ["-n", "default"], False, id="no-spec-writes"),
        pytest.param("delete", "variantautoscalings.llmd.ai", ["-n", "default"], False, id="no-va-delete"),
        pytest.param(
            "patch", "deployments.apps", ["--subresource=scale", "-n", "default"], True, id="scale-deployments"
        ),
        pytest.param("update", "deployments.apps", ["-n", "default"], False, id="no-deployment-writes"),
        pytest.param("list", "pods", ["-A"], True, id="list-pods"),
        pytest.param("list", "nodes", [], True, id="list-nodes"),
        pytest.param("list", "configmaps", ["-A"], True, id="list-configmaps"),
        pytest.param("update", "configmaps", ["-n", "default"], False, id="no-configmap-writes"),
        pytest.param("get", "secrets", ["-n", "default"], False, id="no-secrets"),
        pytest.param("create", "events", ["-n", "default"], True, id="events"),
    ],
)
def test_cluster_scope_grants_exactly_what_the_controller_uses(
    kube_cluster: ClusterInfo, installed: dict[str, Any], verb: str, resource: str, flags: list[str], expected: bool
) -> None:
    assert _can(kube_cluster.kubeconfig, installed["sa"], verb, resource, *flags) is expected


def test_leases_only_in_the_release_namespace(kube_cluster: ClusterInfo, installed: dict[str, Any]) -> None:
    kc, sa = kube_cluster.kubeconfig, installed["sa"]
    assert _can(kc, sa, "create", "leases.coordination.k8s.io", "-n", installed["release_ns"])
    assert _can(kc, sa, "update", "leases.coordination.k8s.io", "-n", installed["release_ns"])
    assert not _can(kc, sa, "create", "leases.coordination.k8s.io", "-n", installed["other_ns"])
    assert not _can(kc, sa, "delete", "leases.coordination.k8s.io", "-n", installed["release_ns"])


def test_namespace_scope_is_confined_to_the_watch_namespace(
    kube_cluster: ClusterInfo, installed_ns_scope: dict[str, Any]
) -> None:
    installed = installed_ns_scope
    kc, sa = kube_cluster.kubeconfig, installed["sa"]
    assert _can(kc, sa, "list", "variantautoscalings.llmd.ai", "-n", installed["model_ns"])
    assert _can(kc, sa, "patch", "deployments.apps", "--subresource=scale", "-n", installed["model_ns"])
    assert not _can(kc, sa, "list", "variantautoscalings.llmd.ai", "-n", installed["other_ns"])
    assert not _can(kc, sa, "list", "variantautoscalings.llmd.ai", "-A")
    assert not _can(kc, sa, "list", "nodes")
