"""The Ray runtime wired to a real API server: `KubeWiring` crosses into the actors (only settings are pickled;
each actor builds its own clients) and the coordinator writes VA status. Marker `integration`.

Prometheus is unreachable on purpose: decisions are held at the current replica count and the status says why.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.kube.cluster import ClusterInfo, free_port
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import KubeApi, KubeNotFound
from wva_ray.runtime.coordinator_actor import CoordinatorOptions
from wva_ray.runtime.kube_wiring import KubeWiring
from wva_ray.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_ray_coordinator_publishes_va_status_through_kube_wiring(
    kube_cluster: ClusterInfo,
    admin_api: KubeApi,
    fake_kubelet: object,
    va_crd: Path,
    namespace: str,
    ray_session: None,
) -> None:
    from wva_ray.runtime.launch import start_ray_runtime, stop_ray_runtime

    apply(admin_api, deployment(namespace, "m1-h100", replicas=2, product="NVIDIA-H100-80GB-HBM3"))
    apply(admin_api, variant_autoscaling(namespace, "m1-h100", "m1-h100"))
    settings = load_settings(
        {
            "kubeconfig": str(kube_cluster.kubeconfig),
            "prometheus_base_url": f"http://127.0.0.1:{free_port()}",
            "watch_namespace": namespace,
            "interval_s": 1.0,
        },
        environ={},
    )
    options = CoordinatorOptions(shards=2, interval_s=1.0, deadline_s=0.8)
    rt = start_ray_runtime(KubeWiring(settings), options, name_prefix=f"k{uuid.uuid4().hex[:6]}-")
    path = f"/apis/llmd.ai/v1alpha1/namespaces/{namespace}/variantautoscalings/m1-h100"

    def published() -> dict[str, object] | None:
        try:
            status = admin_api.get(path).get("status") or {}
        except KubeNotFound:
            return None
        return status if status.get("desiredOptimizedAlloc") else None

    try:
        status = wait_for(published, 90, what="VA status written by the coordinator actor")
    finally:
        stop_ray_runtime(rt)
    alloc = status["desiredOptimizedAlloc"]
    assert isinstance(alloc, dict) and alloc["numReplicas"] == 2 and alloc["accelerator"] == "H100"
    conditions = {c["type"]: c for c in status["conditions"]}  # type: ignore[attr-defined]
    assert conditions["MetricsAvailable"]["status"] == "False"


def test_controller_in_ray_mode_elects_itself_publishes_and_stops_cleanly(
    kube_cluster: ClusterInfo,
    admin_api: KubeApi,
    fake_kubelet: object,
    va_crd: Path,
    system_namespace: str,
    namespace: str,
    ray_session: None,
) -> None:
    import asyncio
    import urllib.request

    from wva_ray.runtime.controller import Controller

    apply(admin_api, deployment(namespace, "m2-h100", replicas=1, product="NVIDIA-H100-80GB-HBM3"))
    apply(admin_api, variant_autoscaling(namespace, "m2-h100", "m2-h100", model_id="m2"))
    health_port = free_port()
    settings = load_settings(
        {
            "kubeconfig": str(kube_cluster.kubeconfig),
            "prometheus_base_url": f"http://127.0.0.1:{free_port()}",
            "watch_namespace": namespace,
            "pod_namespace": system_namespace,
            "lease_name": f"wva-ray-{namespace}",
            "interval_s": 1.0,
            "use_ray": True,
            "metrics_port": free_port(),
            "health_port": health_port,
            "bind_address": "127.0.0.1",
        },
        environ={},
    )
    path = f"/apis/llmd.ai/v1alpha1/namespaces/{namespace}/variantautoscalings/m2-h100"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.runtime.metrics_port}/metrics", timeout=2) as r:
            body: str = r.read().decode()
            return body

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Controller(settings, identity="ray-controller").run(stop))
        try:
            for _ in range(600):
                status = admin_api.get(path).get("status") or {}
                if status.get("desiredOptimizedAlloc") and await asyncio.to_thread(ready):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("no status written / not ready within 60 s")
            for _ in range(100):  # the coordinator's decision gauges, relayed on the one metrics port
                if 'wva_desired_replicas{accelerator_type="H100"' in await asyncio.to_thread(scrape):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"no wva_desired_replicas on metrics_port {settings.runtime.metrics_port}")
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    asyncio.run(scenario())
    assert admin_api.get(path)["status"]["desiredOptimizedAlloc"]["numReplicas"] == 1
    lease = admin_api.get(f"/apis/coordination.k8s.io/v1/namespaces/{system_namespace}/leases/wva-ray-{namespace}")
    assert not lease["spec"].get("holderIdentity"), "the Lease was not released on stop"
