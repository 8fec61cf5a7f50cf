"""Annotation discovery against the real API server (Kubernetes 1.20, autoscaling/v2beta2 HPAs, a ScaledObject
CRD written here): upstream v0.9's e2e discovery scenario with and without the `llm-d.ai/variant` label,
precedence (ScaledObject over HPA, KEDA's own HPA skipped, VA over annotations), the KEDA CRD appearing while
the controller runs, an invalid annotation and an attribution miss (skipped or counted, an Event, nothing else
affected), `wva-ray plan --from-cluster` showing why each variant was found, namespace exclusion and controller
instances on scalers, and prefill/decode roles read from the pod template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.kube.cluster import ClusterInfo
from tests.kube.conftest import SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from tests.kube.v09.conftest import (
    HPA_BASE,
    SO_BASE,
    hpa,
    install_keda_crd,
    managed,
    post,
    remove_keda_crd,
    scaled_object,
)
from wva_ray.adapters.kube.client import JsonObj, KubeApi
from wva_ray.adapters.kube.reader import ClusterState, KubeReader
from wva_ray.adapters.kube.scaler_events import ScalerEvents
from wva_ray.adapters.kube.scalers import MISS_VARIANT_LABEL, served_hpa_version
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.decide import decide

pytestmark = [pytest.mark.integration]

WVA_RAY = Path(sys.executable).parent / "wva-ray"
H100 = "NVIDIA-H100-80GB-HBM3"


def labelled(doc: JsonObj, **labels: str) -> JsonObj:
    """The Deployment with extra pod-template labels (not in its selector)."""
    doc["spec"]["template"]["metadata"]["labels"].update(labels)
    return doc


def plan_of(reader: KubeReader) -> tuple[ClusterState, Plan]:
    state = reader.read()
    now = datetime.now(UTC)
    return state, decide(state.snapshot(now), now)


def names(plan: Plan, ns: str) -> list[str]:
    return [d.name for d in plan.decisions if d.namespace == ns]


def pods_of(state: ClusterState, ns: str, target: str) -> list[str]:
    return [p.name for p in state.pods if p.namespace == ns and p.target == target and p.ready]


def pod_report(api: KubeApi, ns: str) -> str:
    """Each pod of the namespace with its node, phase and scheduling message; then the GPUs each node has bound."""
    lines = []
    for pod in api.get(f"/api/v1/namespaces/{ns}/pods")["items"]:
        status = pod.get("status") or {}
        scheduled = [c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"]
        why = scheduled[0].get("message", "") if scheduled else ""
        lines.append(f"{pod['metadata']['name']}: node={pod['spec'].get('nodeName')} {status.get('phase')} {why}")
    bound: dict[str, int] = {}
    for pod in api.get("/api/v1/pods")["items"]:
        node = pod["spec"].get("nodeName")
        for c in pod["spec"].get("containers", []):
            gpus = int(((c.get("resources") or {}).get("requests") or {}).get("nvidia.com/gpu", 0))
            if node and gpus:
                bound[node] = bound.get(node, 0) + gpus
    return "\n".join([*lines, f"GPUs bound per node (all namespaces): {bound}"])


def events(api: KubeApi, ns: str, name: str) -> list[JsonObj]:
    items = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e.get("reportingComponent") == "wva-ray"]


def test_the_control_plane_serves_autoscaling_v2beta2(admin_api: KubeApi) -> None:
    # Kubernetes 1.20 has no autoscaling/v2 (1.23+): discovery falls back to v2beta2, the same fields
    assert served_hpa_version(admin_api) == "autoscaling/v2beta2"


def test_hpa_discovery_with_and_without_the_variant_label(
    reader: KubeReader, admin_api: KubeApi, namespace: str
) -> None:
    ns = namespace
    apply(admin_api, labelled(deployment(ns, "m1-a", product=H100), **{"llm-d.ai/variant": "m1-a-hpa"}))
    apply(admin_api, deployment(ns, "m1-b", product=H100))  # no variant label: attributed by owner references
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-a-hpa", "m1-a", managed(cost="5")))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-b-hpa", "m1-b", managed(), min_r=2, max_r=4))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "plain", "m1-b", {}))  # not managed: ignored

    def both_attributed() -> tuple[ClusterState, Plan] | None:
        state, plan = plan_of(reader)
        ok = pods_of(state, ns, "m1-a") and pods_of(state, ns, "m1-b") and len(names(plan, ns)) == 2
        return (state, plan) if ok else None

    state, plan = wait_for(both_attributed, 60, what="both HPAs discovered with their pods")
    assert names(plan, ns) == ["m1-a-hpa", "m1-b-hpa"]  # named after the scaler object, not the Deployment
    a, b = (next(d for d in plan.decisions if d.key == f"{ns}/{n}") for n in ("m1-a-hpa", "m1-b-hpa"))
    assert (a.model_id, a.accelerator, a.current_replicas) == ("m1", "H100", 1)
    assert a.source is not None and a.source.kind == "HorizontalPodAutoscaler"
    assert "cost 5" in a.source.reason and "replicas 1..10" in a.source.reason
    assert b.source is not None and "replicas 2..4" in b.source.reason
    # no metrics were given: held at current, never zero, and the enforcer lifts b to its minimum 2
    assert a.desired_replicas == 1 and b.desired_replicas == 2
    assert state.annotated.misses == ()


def test_keda_crd_appearing_later_is_picked_up(
    controller_api: KubeApi, admin_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet, namespace: str
) -> None:
    ns = namespace
    remove_keda_crd(admin_api)
    reader = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS))
    reader.scalers.rediscover_after_s = 0.5
    reader.start()
    try:
        apply(admin_api, deployment(ns, "m1-h", product=H100))
        apply(admin_api, deployment(ns, "m1-k", product=H100))
        post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-h", "m1-h", managed()))
        wait_for(lambda: names(plan_of(reader)[1], ns) == ["m1-h"], 30, what="the HPA alone, without KEDA")
        assert not reader.scalers.keda_available
        install_keda_crd(admin_api)
        post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-k-so", "m1-k", managed()))
        wait_for(lambda: names(plan_of(reader)[1], ns) == ["m1-h", "m1-k-so"], 30, what="the ScaledObject too")
        assert reader.scalers.keda_available
    finally:
        reader.stop()


def test_scaled_object_beats_hpa_and_kedas_hpa_is_skipped(
    reader: KubeReader, admin_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    apply(admin_api, deployment(ns, "m1", product=H100))
    so = post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(), min_r=None))
    # what KEDA creates: an HPA owned by the ScaledObject, inheriting its annotations
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "keda-hpa-m1-so", "m1", managed(), owner=so))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "user-hpa", "m1", managed()))

    def settled() -> tuple[ClusterState, Plan] | None:
        state, plan = plan_of(reader)
        skipped = {s.name for s in state.annotated.skipped if s.namespace == ns}
        return (state, plan) if skipped == {"keda-hpa-m1-so", "user-hpa"} else None

    state, plan = wait_for(settled, 30, what="the ScaledObject chosen, both HPAs skipped")
    assert names(plan, ns) == ["m1-so"]
    (d,) = [d for d in plan.decisions if d.namespace == ns]
    assert d.source is not None and d.source.kind == "ScaledObject" and "replicas 0..10" in d.source.reason
    why = {s.name: s for s in state.annotated.skipped if s.namespace == ns}
    assert why["keda-hpa-m1-so"].quiet and "created by ScaledObject m1-so" in why["keda-hpa-m1-so"].reason
    assert "a ScaledObject beats an HPA" in why["user-hpa"].reason
    assert not any("keda-hpa-m1-so" in w for w in plan.warnings)  # expected: not worth a warning


def test_a_variant_autoscaling_beats_annotations(
    reader: KubeReader, admin_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    apply(admin_api, deployment(ns, "m1", product=H100))
    apply(admin_api, variant_autoscaling(ns, "m1-va", "m1"))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed()))

    def both_seen() -> Plan | None:
        state, plan = plan_of(reader)
        return plan if any(s.name == "m1-so" for s in state.annotated.skipped) and names(plan, ns) else None

    plan = wait_for(both_seen, 30, what="VA and ScaledObject seen")
    assert names(plan, ns) == ["m1-va"]
    assert any("VariantAutoscaling " + ns + "/m1-va targets the same Deployment/m1" in w for w in plan.warnings)
    (d,) = [d for d in plan.decisions if d.namespace == ns]
    assert d.source is None  # a VA keeps the VA path: status, conditions


def test_invalid_annotation_is_skipped_with_an_event_and_nothing_else_changes(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, keda_crd: None, namespace: str
) -> None:
    ns = namespace
    apply(admin_api, deployment(ns, "good", product=H100))
    apply(admin_api, deployment(ns, "bad", product=H100))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "good", "good", managed()))
    bad = {"llm-d.ai/managed": "true", "llm-d.ai/model-id": "m2", "llm-d.ai/variant-cost": "expensive"}
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "bad-so", "bad", bad))

    def seen() -> tuple[ClusterState, Plan] | None:
        state, plan = plan_of(reader)
        return (state, plan) if names(plan, ns) == ["good"] and state.annotated.skipped else None

    state, plan = wait_for(seen, 30, what="the good HPA decided, the bad ScaledObject skipped")
    assert any(
        "ScaledObject " + ns + "/bad-so skipped: annotation llm-d.ai/variant-cost 'expensive'" in w
        for w in plan.warnings
    )
    recorder = ScalerEvents(controller_api)
    now = datetime.now(UTC)
    recorder.publish(state.annotated, plan.decisions, now)
    recorder.publish(state.annotated, plan.decisions, now)  # the same problem again: no second Event
    (ev,) = events(admin_api, ns, "bad-so")
    assert (ev["reason"], ev["type"], ev["involvedObject"]["kind"]) == (
        "InvalidConfiguration",
        "Warning",
        "ScaledObject",
    )
    assert "llm-d.ai/variant-cost 'expensive'" in ev["message"]
    # nothing on the good scaler about the bad one (this test gives no metrics: its own MetricsUnavailable aside)
    assert [e["reason"] for e in events(admin_api, ns, "good") if e["reason"] != "MetricsUnavailable"] == []


def test_attribution_miss_is_counted_and_reported(
    reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, namespace: str
) -> None:
    ns = namespace
    apply(admin_api, deployment(ns, "m1", product=H100))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-hpa", "m1", managed()))
    # a vLLM pod whose variant label names no managed scaler
    apply(admin_api, labelled(deployment(ns, "stray", product=H100), **{"llm-d.ai/variant": "ghost"}))

    def missed() -> tuple[ClusterState, Plan] | None:
        state, plan = plan_of(reader)
        mine = [m for m in state.annotated.misses if m[0] == ns]
        return (state, plan) if mine and pods_of(state, ns, "m1") else None

    state, plan = wait_for(missed, 60, what="the stray pod counted as a miss")
    # (namespaces of earlier tests may still be terminating: their misses are theirs)
    ((_, pod, reason),) = [m for m in state.annotated.misses if m[0] == ns]
    assert reason == MISS_VARIANT_LABEL and pod.startswith("stray-")
    assert any(f"pod {ns}/{pod} is not attributed" in w for w in plan.warnings)
    assert names(plan, ns) == ["m1-hpa"]
    ScalerEvents(controller_api).publish(state.annotated, plan.decisions, datetime.now(UTC))
    (ev,) = [e for e in events(admin_api, ns, "m1-hpa") if e["reason"] == "UnattributedReadyPods"]
    assert pod in ev["message"]


def test_plan_from_cluster_shows_annotated_variants_and_why(
    kube_cluster: ClusterInfo,
    admin_api: KubeApi,
    fake_kubelet: FakeKubelet,
    va_crd: object,
    keda_crd: None,
    namespace: str,
) -> None:
    ns = namespace
    apply(admin_api, deployment(ns, "m1", replicas=2, product=H100))
    post(admin_api, SO_BASE, "scaledobjects", scaled_object(ns, "m1-so", "m1", managed(cost="7.5"), max_r=6))
    dep = f"/apis/apps/v1/namespaces/{ns}/deployments/m1"
    wait_for(lambda: (admin_api.get(dep).get("status") or {}).get("readyReplicas") == 2, 60, what="2 ready")
    env = {**os.environ, "POD_NAMESPACE": SYSTEM_NS, "WATCH_NAMESPACE": ns}
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
    (d,) = json.loads(out.stdout)["decisions"]
    assert (d["name"], d["modelID"], d["accelerator"], d["currentReplicas"]) == ("m1-so", "m1", "H100", 2)
    source: dict[str, Any] = d["source"]
    assert source["kind"] == "ScaledObject"
    assert "llm-d.ai/managed=true" in source["reason"] and "cost 7.5" in source["reason"]


def test_excluded_namespace_and_controller_instance_apply_to_scalers(
    controller_api: KubeApi, admin_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet, namespace: str
) -> None:
    ns, excluded = namespace, f"{namespace}-x"
    meta = {"name": excluded, "annotations": {"wva.llmd.ai/exclude": "true"}}
    apply(admin_api, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    every = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS))
    blue = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS, controller_instance="blue"))
    try:
        for doc in (deployment(ns, "m1", product=H100), deployment(ns, "m2", product=H100)):
            apply(admin_api, doc)
        apply(admin_api, deployment(excluded, "m1", product=H100))
        post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "plain", "m1", managed()))
        mine = hpa(ns, "blue", "m2", managed())
        mine["metadata"]["labels"] = {"wva.llmd.ai/controller-instance": "blue"}
        post(admin_api, HPA_BASE, "horizontalpodautoscalers", mine)
        post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(excluded, "hidden", "m1", managed()))
        every.start()
        blue.start()

        def keys(r: KubeReader) -> list[str]:
            return sorted(d.key for d in plan_of(r)[1].decisions if d.namespace in (ns, excluded))

        wait_for(lambda: keys(every) == [f"{ns}/blue", f"{ns}/plain"], 30, what="all scalers but the excluded one")
        wait_for(lambda: keys(blue) == [f"{ns}/blue"], 30, what="instance blue: its own scaler only")
    finally:
        every.stop()
        blue.stop()
        admin_api.delete(f"/api/v1/namespaces/{excluded}")


def test_roles_from_the_pod_template_are_sized_apart(reader: KubeReader, admin_api: KubeApi, namespace: str) -> None:
    # prefill pool saturated (KV 0.95, 10 waiting), decode pool idle (KV 0.05 on 2 pods), one model: pooled, neither
    # would move (tests/v09/test_roles.py has the arithmetic); per role, prefill grows and decode shrinks
    ns = namespace
    stock = {  # the saturation ConfigMap as upstream v0.9 ships it (namespace-local here)
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "wva-saturation-scaling-config",
            "namespace": ns,
            "labels": {"app.kubernetes.io/name": "workload-variant-autoscaler"},
        },
        "data": {"default": "analyzers:\n- name: saturation\n  score: 1.0\n"},
    }
    apply(admin_api, stock)
    apply(admin_api, labelled(deployment(ns, "m1-p", product=H100), **{"llm-d.ai/role": "prefill"}))
    apply(admin_api, labelled(deployment(ns, "m1-d", replicas=2, product=H100), **{"llm-d.ai/role": "decode"}))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-p", "m1-p", managed()))
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", hpa(ns, "m1-d", "m1-d", managed()))

    def pods_up() -> ClusterState | None:
        state = reader.read()
        roles = {t.name: t.pod_labels.get("llm-d.ai/role") for t in state.snapshot(datetime.now(UTC)).scale_targets}
        # the targets' templates can trail their pods in the reader's watches; a wrong role times out
        up = len(pods_of(state, ns, "m1-p")) == 1 and len(pods_of(state, ns, "m1-d")) == 2
        return state if up and roles.get("m1-p") == "prefill" and roles.get("m1-d") == "decode" else None

    # the H100 node is shared with earlier tests, whose namespaces may still be terminating: allow for the pods to be
    # scheduled, and say why they were not (phase and scheduling message of each) if they never are
    try:
        wait_for(pods_up, 180, poll_s=0.5, what="1 prefill and 2 decode pods Ready, with their roles")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{pod_report(admin_api, ns)}") from exc

    def sized() -> dict[str, int] | None:
        state = reader.read()
        rows = [
            PodMetrics(namespace=ns, model_name="m1", pod=p, kv_cache_usage=kv, queue_length=q, num_gpu_blocks=1000,
                       block_size=16, avg_input_tokens=500, avg_output_tokens=200)
            for target, kv, q in (("m1-p", 0.95, 10.0), ("m1-d", 0.05, 0.0))
            for p in pods_of(state, ns, target)
        ]  # fmt: skip
        now = datetime.now(UTC)
        plan = decide(state.snapshot(now, metrics=rows), now)
        got = {d.name: d.desired_replicas for d in plan.decisions if d.namespace == ns}
        seen.append(f"{got}: " + "; ".join(f"{d.name}: {d.reason}" for d in plan.decisions if d.namespace == ns))
        # the reader's ConfigMap and scaler watches can trail the pods: until the stock ConfigMap is read the analyzer
        # is another one; a sizing that never becomes per-role times out, showing the last sizings
        return got if got == {"m1-p": 2, "m1-d": 1} else None

    seen: list[str] = []
    try:
        wait_for(sized, 60, what="both role pools sized apart (prefill 2, decode 1)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast sizings:\n" + "\n".join(seen[-3:])) from exc
