"""Upstream v0.9's e2e scenarios on the real API server with annotated ScaledObjects (direct actuation stands in
for KEDA, which needs container images): V2 scales up at KV 0.3 with thresholds 0.30 / 0.20 and back to 1 with
0.95 / 0.85 (the thresholds from a namespace-local ConfigMap with an `analyzers:` list), and scale-from-zero from
an EPP flow-control queue takes a Deployment at 0 to 1."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.kube.manifests import apply, deployment, wait_for
from tests.kube.v09.conftest import SO_BASE, managed, post, scaled_object
from wva_ray.adapters.kube.client import KubeApi
from wva_ray.adapters.kube.publish import ActuationMode, KubePublisher
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics
from wva_ray.core.decide import decide

H100 = "NVIDIA-H100-80GB-HBM3"


def _thresholds(api: KubeApi, ns: str, up: float, down: float) -> None:
    entry = f"analyzers:\n- name: saturation\n  parameters: {{scaleUpThreshold: {up}, scaleDownBoundary: {down}}}\n"
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "wva-saturation-scaling-config", "namespace": ns},
            "data": {"default": entry},
        },
    )


def _cycle(reader: KubeReader, publisher: KubePublisher, ns: str, kv: float, queues: list[FlowControlQueue]) -> int:
    state = reader.read()
    now = datetime.now(UTC)
    rows = [
        PodMetrics(
            namespace=p.namespace,
            model_name="m1",
            pod=p.name,
            kv_cache_usage=kv,
            queue_length=0,
            num_gpu_blocks=1000,
            block_size=16,
            avg_input_tokens=512,
            avg_output_tokens=128,
        )
        for p in state.pods
        if p.namespace == ns and p.target == "m1" and p.ready
    ]
    plan = decide(state.snapshot(now, metrics=rows, flow_control_queues=queues), now)
    publisher.publish(plan.decisions, now, state.targets)
    mine = [d for d in plan.decisions if d.namespace == ns]
    if not mine:
        return -1  # the ScaledObject is not in the watch cache yet
    (d,) = mine
    assert d.name == "m1-so" and d.source is not None
    return d.desired_replicas


def _replicas(api: KubeApi, ns: str) -> int:
    return int(api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/m1/scale")["spec"].get("replicas", 0))


def test_v2_scales_up_and_back_with_thresholds(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    _thresholds(admin_api, ns, 0.30, 0.20)
    apply(admin_api, deployment(ns, "m1", product=H100))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=1, max_r=3))
    publisher = KubePublisher(controller_api, mode=ActuationMode.DIRECT)

    def grown() -> bool:
        _cycle(reader, publisher, ns, 0.3, [])
        return _replicas(admin_api, ns) >= 2

    wait_for(grown, 90, poll_s=1.0, what="KV 0.3 over thresholds 0.30/0.20: at least 2 replicas")
    _thresholds(admin_api, ns, 0.95, 0.85)

    def back() -> bool:
        _cycle(reader, publisher, ns, 0.3, [])
        return _replicas(admin_api, ns) == 1

    wait_for(back, 90, poll_s=1.0, what="thresholds 0.95/0.85: back to 1")


def test_scale_from_zero_from_a_flow_control_queue(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    apply(  # scale to zero on (inline, v0.9): an idle model may stay at 0 instead of the model minimum 1
        admin_api,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "wva-saturation-scaling-config", "namespace": ns},
            "data": {"default": "scaleToZero: {enabled: true}\n"},
        },
    )
    apply(admin_api, deployment(ns, "m1", replicas=0, product=H100))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=0, max_r=2))
    publisher = KubePublisher(controller_api, mode=ActuationMode.DIRECT)
    wait_for(lambda: _cycle(reader, publisher, ns, 0.0, []) == 0, 30, what="idle at 0 without a queue")
    assert _replicas(admin_api, ns) == 0
    queue = [FlowControlQueue(namespace=None, model_name="m1", size=2)]  # EPP's series carry no namespace
    wait_for(lambda: _cycle(reader, publisher, ns, 0.0, queue) == 1, 30, what="queued request: desired 1")
    wait_for(lambda: _replicas(admin_api, ns) == 1, 30, what="the Deployment scaled from 0 to 1")
