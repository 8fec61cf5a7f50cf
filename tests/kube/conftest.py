"""Fixtures for the real-apiserver tier: one local control plane per test session (started here, from the
binaries cached by scripts/setup.d/20-kube-control-plane.sh), a fake kubelet with GPU nodes, the VA CRD from
crds/, and the controller's ServiceAccount bound to operator/rbac/ (the adapter under test uses its token).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube.cluster import ClusterInfo, ControlPlaneError, LocalControlPlane
from tests.kube.fake_kubelet import FakeKubelet, FakeNode
from tests.kube.manifests import apply, apply_files, delete, load_yaml, wait_for
from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeNotFound, token_configuration

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = Path(os.environ.get("WVA_TEST_CRD", str(REPO / "crds" / "llmd.ai_variantautoscalings.yaml")))
RBAC_DIR = REPO / "operator" / "rbac"
SYSTEM_NS = "workload-variant-autoscaler-system"
CONTROLLER_SA = "wva-ray-controller"
NODES = [
    FakeNode("gpu-h100-0", "NVIDIA-H100-80GB-HBM3", 8),
    FakeNode("gpu-a100-0", "NVIDIA-A100-PCIE-80GB", 4),
]


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterInfo]:
    plane = LocalControlPlane(tmp_path_factory.mktemp("kube"))
    try:
        info = plane.start()
    except ControlPlaneError as exc:
        plane.stop()
        pytest.fail(f"local control plane did not start: {exc}")
    try:
        yield info
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def admin_api(kube_cluster: ClusterInfo) -> KubeApi:
    return KubeApi(token_configuration(kube_cluster.server, kube_cluster.token, str(kube_cluster.ca_file)))


@pytest.fixture(scope="session")
def fake_kubelet(admin_api: KubeApi) -> Iterator[FakeKubelet]:
    kubelet = FakeKubelet(admin_api, list(NODES)).start()
    yield kubelet
    kubelet.stop()


@pytest.fixture(scope="session")
def va_crd(admin_api: KubeApi) -> Path:
    if not CRD_FILE.is_file():
        pytest.fail(f"CRD file {CRD_FILE} missing (generated from wva_ray.api by the lead)")
    for doc in load_yaml(CRD_FILE):
        apply(admin_api, doc)
        name = doc["metadata"]["name"]

        def established(name: str = name) -> bool:
            crd = admin_api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conds = (crd.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conds)

        wait_for(established, 30, what=f"CRD {name} Established")
    wait_for(lambda: _served(admin_api), 30, what="llmd.ai/v1alpha1 served")
    return CRD_FILE


def _served(api: KubeApi) -> bool:
    try:
        api.get("/apis/llmd.ai/v1alpha1")
        return True
    except KubeNotFound:
        return False


@pytest.fixture(scope="session")
def system_namespace(admin_api: KubeApi) -> str:
    apply(admin_api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NS}})
    return SYSTEM_NS


@pytest.fixture(scope="session")
def controller_token(admin_api: KubeApi, system_namespace: str) -> str:
    """A token of the controller's ServiceAccount, bound to operator/rbac/ only."""
    apply_files(admin_api, sorted(RBAC_DIR.glob("*.yaml")))
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 7200}}
    doc = admin_api.post(f"/api/v1/namespaces/{system_namespace}/serviceaccounts/{CONTROLLER_SA}/token", body)
    return str(doc["status"]["token"])


@pytest.fixture(scope="session")
def controller_api(kube_cluster: ClusterInfo, controller_token: str) -> KubeApi:
    return KubeApi(token_configuration(kube_cluster.server, controller_token, str(kube_cluster.ca_file)))


@pytest.fixture
def namespace(admin_api: KubeApi) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin_api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(KubeNotFound):
        admin_api.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def system_objects(admin_api: KubeApi) -> Iterator[list[JsonObj]]:
    """Objects a test applies in the controller's namespace (global ConfigMaps): deleted after the test, because the
    namespace outlives it and a global entry left behind is merged into every later test's configuration."""
    created: list[JsonObj] = []
    yield created
    for doc in reversed(created):
        delete(admin_api, doc)
