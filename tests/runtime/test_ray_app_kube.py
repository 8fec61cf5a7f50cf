"""The RayService mode end to end on this machine: the chart's rendered `serveConfigV2` (import path and
runtime_env) deployed with REAL Ray Serve, the supervisor configured only through the environment (the head
container's env from the chart, pointed at the local kube-apiserver), against the REAL API server: it takes the
Lease, the coordinator writes VA status, /readyz answers and the decision gauges are on WVA_METRICS_PORT; deleting
the application releases the Lease. Marker `integration`.

Local differences, each set in runtime_env.env_vars: the head resource is Ray's `node:__internal_head__` (this Ray
has no `wva-head`), Prometheus is a dead port (decisions hold at the current count), ports are free local ports.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.cluster import ClusterInfo, free_port
from tests.kube.manifests import apply, deployment, variant_autoscaling
from tests.packaging.tools import one, render
from wva_ray.adapters.kube.client import KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _wait(pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body: str = resp.read().decode()
            return body if resp.status == 200 else None
    except OSError:
        return None


def _chart_serve_config(env_overrides: dict[str, str]) -> dict[str, Any]:
    """The RayService's serveConfigV2 with the head container's literal env folded into runtime_env."""
    rs = one(render({"controller": {"mode": "rayservice"}}), "RayService")
    config: dict[str, Any] = yaml.safe_load(rs["spec"]["serveConfigV2"])
    [container] = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
    head_env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    [app] = config["applications"]
    app["runtime_env"]["env_vars"] = {**head_env, **app["runtime_env"]["env_vars"], **env_overrides}
    return config


def test_chart_serve_config_runs_the_controller_against_the_api_server(
    kube_cluster: ClusterInfo,
    admin_api: KubeApi,
    fake_kubelet: object,
    va_crd: Path,
    system_namespace: str,
    namespace: str,
    serve_started: None,
) -> None:
    from ray import serve
    from ray.serve.context import _get_global_client
    from ray.serve.schema import ServeDeploySchema

    apply(admin_api, deployment(namespace, "m3-h100", replicas=2, product="NVIDIA-H100-80GB-HBM3"))
    apply(admin_api, variant_autoscaling(namespace, "m3-h100", "m3-h100", model_id="m3"))
    metrics_port, health_port = free_port(), free_port()
    lease = f"/apis/coordination.k8s.io/v1/namespaces/{system_namespace}/leases/wva-ray-{namespace}"
    config = _chart_serve_config(
        {
            "KUBECONFIG": str(kube_cluster.kubeconfig),
            "WATCH_NAMESPACE": namespace,
            "POD_NAMESPACE": system_namespace,
            "WVA_LEASE_NAME": f"wva-ray-{namespace}",
            "PROMETHEUS_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "GLOBAL_OPT_INTERVAL": "1s",
            "WVA_METRICS_PORT": str(metrics_port),
            "WVA_HEALTH_PORT": str(health_port),
            "WVA_BIND_ADDRESS": "127.0.0.1",
            "WVA_HEAD_RESOURCE": "node:__internal_head__",
        }
    )
    [app] = config["applications"]
    assert app["import_path"] == "wva_ray.runtime.ray_app:app"
    client = _get_global_client()
    assert client is not None, "Serve is not running"
    client.deploy_apps(ServeDeploySchema.model_validate(config), _blocking=True)
    try:
        path = f"/apis/llmd.ai/v1alpha1/namespaces/{namespace}/variantautoscalings/m3-h100"
        status = _wait(lambda: (admin_api.get(path).get("status") or {}).get("desiredOptimizedAlloc"), 90, "VA status")
        assert status["numReplicas"] == 2, status  # Prometheus is down: the decision holds the current count
        _wait(lambda: _get(f"http://127.0.0.1:{health_port}/readyz"), 30, "/readyz")
        _wait(
            lambda: (
                'wva_desired_replicas{accelerator_type="H100",namespace="' + namespace + '",variant_name="m3-h100"}'
                in (_get(f"http://127.0.0.1:{metrics_port}/metrics") or "")
            ),
            30,
            "wva_desired_replicas on WVA_METRICS_PORT",
        )
        assert admin_api.get(lease)["spec"].get("holderIdentity"), "the supervisor does not hold the Lease"
    finally:
        serve.delete(app["name"], _blocking=True)
    _wait(lambda: not admin_api.get(lease)["spec"].get("holderIdentity"), 60, "the Lease to be released")
