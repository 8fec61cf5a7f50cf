"""operator/rbac/ is exactly what the adapter needs: every read and write path (reader, status, Events,
direct scaling of each listed kind, Lease) is run with the controller's ServiceAccount token, the requests
are mapped to (group, resource, verb), and the set must equal the rules the role grants — nothing missing
(the calls would fail with 403) and nothing granted that is never used. Verbs outside the role are denied."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.kube.cluster import ClusterInfo
from tests.kube.conftest import RBAC_DIR, SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, load_yaml, variant_autoscaling, wait_for
from tests.kube.v09.conftest import install_keda_crd, install_lws_crd
from wva_ray.adapters.kube.client import KubeApi, KubeForbidden, token_configuration
from wva_ray.adapters.kube.cluster_state import ClusterState
from wva_ray.adapters.kube.lease import LeaderElector, LeaseConfig
from wva_ray.adapters.kube.publish import KubePublisher
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.api.plan import Action, Decision, PlanCondition
from wva_ray.api.va import ConditionStatus

pytestmark = [pytest.mark.integration]

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)


def granted(rbac_dir: Path) -> set[Permission]:
    perms: set[Permission] = set()
    for path in sorted(rbac_dir.glob("*.yaml")):
        for doc in load_yaml(path):
            if doc["kind"] not in ("ClusterRole", "Role"):
                continue
            for rule in doc["rules"]:
                for g in rule["apiGroups"]:
                    for r in rule["resources"]:
                        for v in rule["verbs"]:
                            perms.add((g, r, v))
    return perms


def permission(method: str, path: str) -> Permission | None:
    """The RBAC attributes of one request path (None for discovery, which every user may read)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        if len(parts) <= 3:
            return None
        group, rest = parts[1], parts[3:]
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    verb = {
        "GET": "get" if name else "list",
        "WATCH": "watch",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
    }[method]
    return (group, f"{resource}/{sub}" if sub else resource, verb)


LWS_API = "leaderworkerset.x-k8s.io/v1"


def _decision(ns: str, name: str, desired: int = 1) -> Decision:
    return Decision(
        namespace=ns,
        name=name,
        modelID="m1",
        accelerator="H100",
        current_replicas=1,
        desired_replicas=desired,
        action=Action.NO_CHANGE,
        reason="rbac",
        conditions=[PlanCondition(type="MetricsAvailable", status=ConditionStatus.TRUE, reason="MetricsFound")],
    )


def test_role_is_exactly_what_the_adapter_uses(
    kube_cluster: ClusterInfo,
    controller_token: str,
    admin_api: KubeApi,
    va_crd: object,
    fake_kubelet: FakeKubelet,
    namespace: str,
) -> None:
    api = KubeApi(
        token_configuration(kube_cluster.server, controller_token, str(kube_cluster.ca_file)), record_paths=True
    )
    apply(admin_api, deployment(namespace, "d", replicas=0))
    sts = deployment(namespace, "s", replicas=0)
    apply(admin_api, {**sts, "kind": "StatefulSet", "spec": {**sts["spec"], "serviceName": "s"}})
    apply(admin_api, {**deployment(namespace, "r", replicas=0), "kind": "ReplicaSet"})
    for name, kind in (("d", "Deployment"), ("s", "StatefulSet"), ("r", "ReplicaSet")):
        apply(admin_api, variant_autoscaling(namespace, name, name, kind=kind))
    install_lws_crd(admin_api)  # LeaderWorkerSet targets are granted by default (WVA v0.9 supports them)
    leader = {"spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:fake"}]}}
    lws_spec = {"replicas": 0, "leaderWorkerTemplate": {"size": 1, "leaderTemplate": leader, "workerTemplate": leader}}
    meta = {"name": "l", "namespace": namespace}
    apply(admin_api, {"apiVersion": LWS_API, "kind": "LeaderWorkerSet", "metadata": meta, "spec": lws_spec})
    va = variant_autoscaling(namespace, "l", "l", kind="LeaderWorkerSet")
    va["spec"]["scaleTargetRef"]["apiVersion"] = LWS_API
    apply(admin_api, va)

    install_keda_crd(admin_api)  # annotation discovery watches HPAs and, with KEDA installed, ScaledObjects
    reader = KubeReader(api, KubeSettings(pod_namespace=SYSTEM_NS)).start()
    try:

        def all_resolved() -> ClusterState | None:
            s = reader.read()
            return s if sum(1 for k in s.targets if k.startswith(f"{namespace}/")) == 4 else None

        state = wait_for(all_resolved, 30, what="four targets resolved")
        publisher = KubePublisher(
            api, lookup=lambda ns, n: {"metadata": {"name": n, "namespace": ns, "resourceVersion": "1"}}
        )
        now = datetime.now(UTC)
        for name in ("d", "s", "r", "l"):
            publisher.write_status(_decision(namespace, name), now)  # stale lookup: 409, GET, PATCH
            assert publisher.scale_from_zero(state.targets[f"{namespace}/{name}"])
        publisher.publish([_decision(namespace, "d")], now)
        assert any(r.transitions for r in publisher.publish([_decision(namespace, "s", 2)], now).results)
    finally:
        reader.stop()
    elector = LeaderElector(api, LeaseConfig(SYSTEM_NS, "rbac-test", "me", 3, 2, 0.2))
    assert elector.try_acquire_or_renew() and elector.try_acquire_or_renew()
    elector.release()

    used = {p for m, path in api.requests_seen() if (p := permission(m, path)) is not None}
    role = granted(RBAC_DIR)
    assert used == role, f"missing from the role: {sorted(used - role)}; granted but unused: {sorted(role - used)}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param(
            "PATCH", "/apis/llmd.ai/v1alpha1/namespaces/{ns}/variantautoscalings/x", {"spec": {}}, id="va-spec-write"
        ),
        pytest.param("DELETE", "/apis/apps/v1/namespaces/{ns}/deployments/x", None, id="delete-deployment"),
        pytest.param("GET", "/api/v1/namespaces/{ns}/secrets", None, id="list-secrets"),
        pytest.param("PATCH", "/apis/apps/v1/namespaces/{ns}/deployments/x", {"spec": {}}, id="deployment-spec-write"),
    ],
)
def test_outside_the_role_is_forbidden(
    controller_api: KubeApi, namespace: str, method: str, path: str, body: object
) -> None:
    with pytest.raises(KubeForbidden):
        controller_api.request(
            method, path.format(ns=namespace), body=body, content_type="application/merge-patch+json" if body else None
        )
