"""Upstream v0.9's e2e scenarios on the real API server with annotated ScaledObjects (direct actuation stands in
for KEDA, which needs container images): V2 scales up at KV 0.3 with thresholds 0.30 / 0.20 and back to 1 with
0.95 / 0.85 (the thresholds from a namespace-local ConfigMap with an `analyzers:` list); the throughput analyzer
(KV max 8 x threshold 0.8 = 6.4 per replica, at KV 0.9 demand 0.9 * 8 / 0.85 > 6.4) takes the desired count above
the minimum, with a `ScaledUp` Event on the ScaledObject; upstream's global ConfigMaps (labelled as it ships them)
with a cluster quota hold a scale-up, with a `ResourceConstrained` Event; and scale-from-zero from an EPP
flow-control queue takes a Deployment at 0 to 1."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from tests.kube.conftest import SYSTEM_NS
from tests.kube.manifests import apply, deployment, wait_for
from tests.kube.v09.conftest import SO_BASE, managed, post, scaled_object
from wva_ray.adapters.kube.client import KubeApi, KubeNotFound
from wva_ray.adapters.kube.publish import ActuationMode, KubePublisher
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.scaler_events import ScalerEvents
from wva_ray.api.plan import Decision
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
    d = _step(reader, publisher, ns, kv, queues)
    return -1 if d is None else d.desired_replicas  # -1: the ScaledObject is not in the watch cache yet


def _step(
    reader: KubeReader,
    publisher: KubePublisher,
    ns: str,
    kv: float,
    queues: list[FlowControlQueue],
    kv_blocks: int = 1000,
    events: ScalerEvents | None = None,
) -> Decision | None:
    """One cycle as the controller runs it (read, decide, publish, Events); the namespace's one decision."""
    state = reader.read()
    now = datetime.now(UTC)
    rows = [
        PodMetrics(
            namespace=p.namespace,
            model_name="m1",
            pod=p.name,
            kv_cache_usage=kv,
            queue_length=0,
            num_gpu_blocks=kv_blocks,
            block_size=16 if kv_blocks >= 1000 else 8,
            avg_input_tokens=512,
            avg_output_tokens=128,
        )
        for p in state.pods
        if p.namespace == ns and p.target == "m1" and p.ready
    ]
    plan = decide(state.snapshot(now, metrics=rows, flow_control_queues=queues), now)
    publisher.publish(plan.decisions, now, state.targets)
    if events is not None:
        events.publish(state.annotated, plan.decisions, now)
    mine = [d for d in plan.decisions if d.namespace == ns]
    if not mine:
        return None
    (d,) = mine
    assert d.name == "m1-so" and d.source is not None
    return d


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


def test_throughput_analyzer_takes_desired_above_min(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    apply(  # upstream's e2e: `- name: throughput`; saturation runs (it always does) without a vote, so that the
        # scale-up can only come from the throughput analyzer
        admin_api,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "wva-saturation-scaling-config", "namespace": ns},
            "data": {"default": "kvCacheThreshold: 0.8\nanalyzers:\n- {name: saturation, enabled: false}\n"
                     "- name: throughput\n"},
        },
    )  # fmt: skip
    apply(admin_api, deployment(ns, "m1", product=H100))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=1, max_r=4))
    publisher = KubePublisher(controller_api, mode=ActuationMode.DIRECT)
    events = ScalerEvents(controller_api)

    def decided_at_min() -> Decision | None:  # a decision on metrics (not held while the pod starts) at min 1
        d = _step(reader, publisher, ns, 0.5, [], kv_blocks=1, events=events)
        return d if d is not None and not d.held and d.desired_replicas == 1 else None

    # ScaledUp is said on a change from a desired count the controller decided before, so the first decision must
    # be made on metrics: on a loaded machine the first cycles can come before the pod is Ready (held)
    wait_for(decided_at_min, 60, poll_s=1.0, what="the SO decided on metrics at min 1")

    def above_min() -> Decision | None:  # KV 0.9 of 8 tokens: 0.9 * 8 / 0.85 = 8.5 > 6.4 per replica
        d = _step(reader, publisher, ns, 0.9, [], kv_blocks=1, events=events)
        return d if d is not None and d.desired_replicas > 1 and _replicas(admin_api, ns) > 1 else None

    d = wait_for(above_min, 60, poll_s=1.0, what="throughput at KV 0.9: desired above min 1")
    assert d.analyzer == "throughput" and d.desired_replicas == 2, (d.analyzer, d.steps)
    scaled = [e for e in admin_api.get(f"/api/v1/namespaces/{ns}/events")["items"] if e["reason"] == "ScaledUp"]
    assert [(e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in scaled] == [("ScaledObject", "m1-so")]


STOCK_LABELS = {"app.kubernetes.io/name": "workload-variant-autoscaler"}  # upstream's ConfigMaps all carry it


def test_upstreams_global_config_maps_with_a_cluster_quota(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    # the global ConfigMaps in the controller namespace, as a v0.9 user has them: the stock analyzers list plus a
    # cluster quota of 1 H100 (quota needs enableLimiter), and the scale-to-zero ConfigMap; V2 wants a second
    # replica at KV 0.3 with thresholds 0.30 / 0.20, the quota holds it at 1: ResourceConstrained on the scaler
    ns = namespace
    saturation = (
        "analyzers:\n- name: saturation\n  score: 1.0\n"
        "  parameters: {scaleUpThreshold: 0.30, scaleDownBoundary: 0.20}\n"
        "enableLimiter: true\nlimiters:\n- type: quota\n  scope: cluster\n  quotas: {H100: 1}\n"
    )
    maps = {
        "wva-saturation-scaling-config": {"default": saturation},
        "wva-model-scale-to-zero-config": {"default": "enable_scale_to_zero: false\nretention_period: 10m\n"},
    }
    try:
        for name, data in maps.items():
            meta = {"name": name, "namespace": SYSTEM_NS, "labels": STOCK_LABELS}
            apply(admin_api, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
        apply(admin_api, deployment(ns, "m1", product=H100))
        post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=1, max_r=3))
        publisher = KubePublisher(controller_api, mode=ActuationMode.DIRECT)
        events = ScalerEvents(controller_api)

        def limited() -> Decision | None:
            d = _step(reader, publisher, ns, 0.3, [], events=events)
            return d if d is not None and d.limited else None

        d = wait_for(limited, 60, poll_s=1.0, what="the cluster quota limits the scale-up")
        assert d.desired_replicas == 1 and d.analyzer == "saturation", (d.desired_replicas, d.analyzer, d.steps)
        assert _replicas(admin_api, ns) == 1
        _step(reader, publisher, ns, 0.3, [], events=events)  # still limited: no second Event
        items = admin_api.get(f"/api/v1/namespaces/{ns}/events")["items"]
        constrained = [e for e in items if e["reason"] == "ResourceConstrained"]
        assert [(e["type"], e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in constrained] == [
            ("Warning", "ScaledObject", "m1-so")
        ]
    finally:
        for name in maps:
            with contextlib.suppress(KubeNotFound):
                admin_api.delete(f"/api/v1/namespaces/{SYSTEM_NS}/configmaps/{name}")


def test_upstreams_queueing_model_config_map_is_read_and_sized_with(
    reader: KubeReader, admin_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    # wva-queueing-model-config with a `default` key takes precedence, as upstream; wva-ray sizes with analyzer slo
    # (upstream parks and holds), with targetTTFT / targetITL as its service class
    ns = namespace
    name = "wva-queueing-model-config"
    path = f"/api/v1/namespaces/{SYSTEM_NS}/configmaps/{name}"
    apply(admin_api, deployment(ns, "m1", product=H100))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=1, max_r=3))
    try:
        meta = {"name": name, "namespace": SYSTEM_NS, "labels": STOCK_LABELS}
        data = {"default": "sloMultiplier: 3\ntuningEnabled: true\ntargetTTFT: 800\ntargetITL: 30\n"}
        apply(admin_api, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})

        def analyzer() -> str | None:
            state = reader.read()
            now = datetime.now(UTC)
            snap = state.snapshot(now)
            mine = [d for d in decide(snap, now).decisions if d.namespace == ns]
            return mine[0].analyzer if mine and snap.config.queueing_model else None

        assert wait_for(analyzer, 30, what="the queueing-model ConfigMap read") == "slo"
    finally:
        with contextlib.suppress(KubeNotFound):
            admin_api.delete(path)


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
