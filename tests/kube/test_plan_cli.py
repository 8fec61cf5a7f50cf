"""``wva-ray plan --from-cluster`` against the real API server: the decisions describe the live state (one per
owned VA, current replicas from the target, TargetResolved as the cluster has it) and nothing is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube.cluster import ClusterInfo
from tests.kube.conftest import SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import KubeApi
from wva_ray.adapters.kube.publish import va_path

pytestmark = [pytest.mark.integration]

WVA_RAY = Path(sys.executable).parent / "wva-ray"


def test_plan_from_cluster_matches_state(
    kube_cluster: ClusterInfo, admin_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet, namespace: str
) -> None:
    apply(admin_api, deployment(namespace, "m1-h100", replicas=2))
    apply(admin_api, variant_autoscaling(namespace, "m1-h100", "m1-h100"))
    apply(admin_api, variant_autoscaling(namespace, "m1-orphan", "not-there"))
    dep = f"/apis/apps/v1/namespaces/{namespace}/deployments/m1-h100"
    wait_for(lambda: (admin_api.get(dep).get("status") or {}).get("readyReplicas") == 2, 60, what="2 ready")
    versions = {
        n: admin_api.get(va_path(namespace, n))["metadata"]["resourceVersion"] for n in ("m1-h100", "m1-orphan")
    }

    env = {**os.environ, "POD_NAMESPACE": SYSTEM_NS, "WATCH_NAMESPACE": namespace}
    env.pop("PROMETHEUS_BASE_URL", None)
    out = subprocess.run(
        [str(WVA_RAY), "plan", "--from-cluster", "--kubeconfig", str(kube_cluster.kubeconfig), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    decisions = {d["name"]: d for d in json.loads(out.stdout)["decisions"]}
    assert sorted(decisions) == ["m1-h100", "m1-orphan"]
    live = decisions["m1-h100"]
    assert (live["currentReplicas"], live["accelerator"]) == (2, "H100")
    conds = {c["type"]: c for c in live["conditions"]}
    assert conds["TargetResolved"]["status"] == "True"
    assert conds["MetricsAvailable"]["status"] == "False"  # no Prometheus given: held, never zero
    assert live["desiredReplicas"] == 2
    orphan = {c["type"]: c for c in decisions["m1-orphan"]["conditions"]}
    assert (orphan["TargetResolved"]["status"], orphan["TargetResolved"]["reason"]) == ("False", "TargetNotFound")
    # plan writes nothing
    assert versions == {n: admin_api.get(va_path(namespace, n))["metadata"]["resourceVersion"] for n in versions}
