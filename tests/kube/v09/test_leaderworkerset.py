"""A LeaderWorkerSet target on the real API server (a structural LWS CRD written here, no LWS controller): an
annotated HPA on an LWS becomes a variant whose accelerator, GPU count and vLLM args come from the leader template
(the worker template differs in all three, so reading the wrong one fails), the pods the LWS controller would
create (labelled `leaderworkerset.sigs.k8s.io/name`, made here) are attributed to it while an unlabelled vLLM pod
is a miss, and a scale-up in direct mode reaches the LWS's `spec.replicas` through its scale subresource."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.kube.manifests import apply, wait_for
from tests.kube.v09.conftest import HPA_BASE, LWS_BASE, hpa, managed, post
from wva_ray.adapters.kube.client import JsonObj, KubeApi
from wva_ray.adapters.kube.publish import ActuationMode, KubePublisher
from wva_ray.adapters.kube.reader import ClusterState, KubeReader
from wva_ray.adapters.kube.scalers import MISS_NO_OWNER
from wva_ray.adapters.kube.templates import LWS_NAME_LABEL
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.decide import decide

pytestmark = [pytest.mark.integration]

LWS = "m1-lws"
SCALER = "m1-hpa"
H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-PCIE-80GB"
LEADER_ARGS = ["--model", "m1", "--tensor-parallel-size", "2", "--pipeline-parallel-size", "2"]
WORKER_ARGS = ["--model", "m1", "--headless"]


def _pod_spec(product: str, gpus: int, args: list[str]) -> JsonObj:
    limits = {"nvidia.com/gpu": str(gpus)}
    container = {"name": "vllm", "image": "vllm/vllm-openai:fake", "args": args, "resources": {"limits": limits}}
    return {
        "containers": [container],
        "nodeSelector": {"nvidia.com/gpu.product": product},
        "terminationGracePeriodSeconds": 0,
    }


def _leader_worker_set(ns: str) -> JsonObj:
    """One group of a leader (H100, 2 GPUs) and a worker (A100, 1 GPU, other args): only the leader's are right."""
    templates = {
        "leaderTemplate": {"metadata": {"labels": {"role": "leader"}}, "spec": _pod_spec(H100, 2, LEADER_ARGS)},
        "workerTemplate": {"metadata": {"labels": {"role": "worker"}}, "spec": _pod_spec(A100, 1, WORKER_ARGS)},
    }
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": LWS, "namespace": ns},
        "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": 2, **templates}},
    }


def _pod(ns: str, name: str, spec: JsonObj, labels: dict[str, str]) -> JsonObj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
    }


def _group_pod(ns: str, lws: JsonObj, worker_index: int) -> JsonObj:
    """A pod of group 0 as the LWS controller labels it (its StatefulSets are not here: no owner references)."""
    templates = lws["spec"]["leaderWorkerTemplate"]
    template = templates["leaderTemplate"] if worker_index == 0 else templates["workerTemplate"]
    labels: dict[str, Any] = {
        **template["metadata"]["labels"],
        LWS_NAME_LABEL: LWS,
        "leaderworkerset.sigs.k8s.io/group-index": "0",
        "leaderworkerset.sigs.k8s.io/worker-index": str(worker_index),
    }
    name = f"{LWS}-0" if worker_index == 0 else f"{LWS}-0-{worker_index}"
    return _pod(ns, name, template["spec"], labels)


def _cycle(reader: KubeReader, publisher: KubePublisher, ns: str, kv: float) -> tuple[ClusterState, Decision | None]:
    """Read, decide (KV `kv` on the leader, which serves), publish; the namespace's one decision."""
    state = reader.read()
    now = datetime.now(UTC)
    rows = [
        PodMetrics(
            namespace=ns,
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
        if p.namespace == ns and p.target == LWS and p.ready and p.name == f"{LWS}-0"
    ]
    plan = decide(state.snapshot(now, metrics=rows), now)
    publisher.publish(plan.decisions, now, state.targets)
    mine = [d for d in plan.decisions if d.namespace == ns]
    assert len(mine) <= 1, [d.name for d in mine]
    return state, (mine[0] if mine else None)


def test_an_hpa_on_a_leader_worker_set(
    lws_crd: None, reader: KubeReader, admin_api: KubeApi, controller_api: KubeApi, namespace: str
) -> None:
    ns = namespace
    thresholds = "analyzers:\n- name: saturation\n  parameters: {scaleUpThreshold: 0.30, scaleDownBoundary: 0.20}\n"
    meta = {"name": "wva-saturation-scaling-config", "namespace": ns}
    apply(admin_api, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"default": thresholds}})
    lws = post(admin_api, LWS_BASE, "leaderworkersets", _leader_worker_set(ns))
    scaler = hpa(ns, SCALER, LWS, managed(cost="7"), min_r=1, max_r=3)
    scaler["spec"]["scaleTargetRef"] = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": LWS,
    }
    post(admin_api, HPA_BASE, "horizontalpodautoscalers", scaler)
    for doc in (_group_pod(ns, lws, 0), _group_pod(ns, lws, 1), _pod(ns, "stray", _pod_spec(H100, 1, LEADER_ARGS), {})):
        post(admin_api, "/api/v1", "pods", doc)
    # the LWS controller's status for one ready group (the scale subresource reports status.replicas)
    admin_api.patch(
        f"{LWS_BASE}/namespaces/{ns}/leaderworkersets/{LWS}/status", {"status": {"replicas": 1, "readyReplicas": 1}}
    )
    publisher = KubePublisher(controller_api, mode=ActuationMode.DIRECT)

    def discovered() -> tuple[ClusterState, Decision] | None:
        state, d = _cycle(reader, publisher, ns, 0.0)  # idle: nothing to act on yet
        ready = {p.name for p in state.pods if p.namespace == ns and p.ready}
        return (state, d) if d is not None and {f"{LWS}-0", f"{LWS}-0-1", "stray"} <= ready else None

    state, d = wait_for(discovered, 30, what="the HPA on the LWS discovered, its pods and the stray pod Ready")
    assert (d.name, d.model_id, d.accelerator, d.gpus_per_replica) == (SCALER, "m1", "H100", 2)
    assert d.source is not None and d.source.kind == "HorizontalPodAutoscaler" and "cost 7" in d.source.reason
    assert (d.current_replicas, d.desired_replicas) == (1, 1)
    (target,) = [t for t in state.scale_targets if t.namespace == ns]
    assert (target.kind, target.name, target.api_version) == ("LeaderWorkerSet", LWS, "leaderworkerset.x-k8s.io/v1")
    assert target.vllm_args == LEADER_ARGS and target.node_selector == {"nvidia.com/gpu.product": H100}
    assert (target.spec_replicas, target.ready_replicas) == (1, 1)
    assert state.target_pods[f"{ns}/{SCALER}"] == (f"{LWS}-0", f"{LWS}-0-1")
    assert [m for m in state.annotated.misses if m[0] == ns] == [(ns, "stray", MISS_NO_OWNER)]

    def scaled_up() -> Decision | None:  # KV 0.3 on the leader over thresholds 0.30 / 0.20: a second group
        _, d = _cycle(reader, publisher, ns, 0.3)
        spec = admin_api.get(f"{LWS_BASE}/namespaces/{ns}/leaderworkersets/{LWS}")["spec"]
        return d if d is not None and spec.get("replicas") == 2 else None

    d = wait_for(scaled_up, 30, poll_s=1.0, what="the LWS's spec.replicas at 2")
    assert (d.desired_replicas, d.analyzer) == (2, "saturation"), (d.desired_replicas, d.analyzer, d.steps)
    assert admin_api.get(f"{LWS_BASE}/namespaces/{ns}/leaderworkersets/{LWS}/scale")["spec"]["replicas"] == 2
