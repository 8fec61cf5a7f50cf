"""Pod-template facts for annotation discovery (adapters/kube/templates.py): a LeaderWorkerSet's leader template
gives the role, accelerator, GPU count and vLLM args (upstream v0.9 reads the leader's), and a pod is attributed
to the workload that owns it (Pod -> ReplicaSet -> Deployment, Pod -> StatefulSet, Pod -> LeaderWorkerSet)."""

from __future__ import annotations

from typing import Any

import pytest

from wva_ray.adapters.kube.inventory import gpus_per_replica, vllm_args
from wva_ray.adapters.kube.templates import node_affinity_terms, owner_workload, template_labels, template_node_selector

H100 = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
HASH = "pod-template-hash"
LWS = "leaderworkerset.sigs.k8s.io/name"


def template(role: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": {"llm-d.ai/role": role}}, "spec": {"nodeSelector": selector or {}}}


def lws(**parts: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "LeaderWorkerSet", "spec": {"leaderWorkerTemplate": parts}}


@pytest.mark.parametrize(
    ("workload", "role", "selector"),
    [
        pytest.param({"spec": {"template": template("decode", H100)}}, "decode", H100, id="deployment"),
        pytest.param(
            lws(leaderTemplate=template("prefill", H100), workerTemplate=template("decode")),
            "prefill",
            H100,
            id="lws-leader-first",
        ),
        pytest.param(lws(workerTemplate=template("decode", H100)), "decode", H100, id="lws-worker-without-leader"),
        pytest.param({"spec": {}}, None, {}, id="no-template"),
    ],
)
def test_the_template_read(workload: dict[str, Any], role: str | None, selector: dict[str, str]) -> None:
    assert template_labels(workload).get("llm-d.ai/role") == role
    assert template_node_selector(workload) == selector


def test_node_affinity_in_terms_of_an_lws_leader() -> None:
    expr = {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A100-SXM4-80GB"]}
    skip = {"key": "zone", "operator": "NotIn", "values": ["a"]}
    affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [expr, skip]}]}
    }
    leader = {"spec": {"affinity": {"nodeAffinity": affinity}}}
    assert node_affinity_terms(lws(leaderTemplate=leader)) == {"nvidia.com/gpu.product": ["NVIDIA-A100-SXM4-80GB"]}


def pod(labels: dict[str, str], *refs: tuple[str, str]) -> dict[str, Any]:
    owners = [{"kind": k, "name": n, "controller": True} for k, n in refs]
    return {"metadata": {"labels": labels, "ownerReferences": owners}}


@pytest.mark.parametrize(
    ("p", "owner"),
    [
        pytest.param(pod({HASH: "7d9f"}, ("ReplicaSet", "m1-7d9f")), ("Deployment", "m1"), id="deployment"),
        pytest.param(pod({}, ("ReplicaSet", "bare")), ("ReplicaSet", "bare"), id="bare-replicaset"),
        pytest.param(pod({}, ("StatefulSet", "m1")), ("StatefulSet", "m1"), id="statefulset"),
        pytest.param(
            pod({LWS: "m1-lws"}, ("StatefulSet", "m1-lws-0")),
            ("LeaderWorkerSet", "m1-lws"),
            id="lws-by-its-label",
        ),
        pytest.param(pod({}, ("LeaderWorkerSet", "m1-lws")), ("LeaderWorkerSet", "m1-lws"), id="lws-owner"),
        pytest.param(pod({}, ("Job", "j")), None, id="other-owner"),
        pytest.param(pod({}), None, id="no-owner"),
    ],
)
def test_pod_owner(p: dict[str, Any], owner: tuple[str, str] | None) -> None:
    assert owner_workload(p) == owner


def serving(gpus: int, *args: str) -> dict[str, Any]:
    container = {"name": "vllm", "args": list(args), "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}
    return {"spec": {"containers": [container]}}


@pytest.mark.parametrize(
    ("workload", "gpus", "args"),
    [
        pytest.param({"spec": {"template": serving(4, "--tp", "4")}}, 4, ["--tp", "4"], id="deployment"),
        pytest.param(
            lws(leaderTemplate=serving(2, "--leader"), workerTemplate=serving(8, "--worker")),
            2,
            ["--leader"],
            id="lws-leader-over-worker",
        ),
        pytest.param(lws(workerTemplate=serving(8, "--worker")), 8, ["--worker"], id="lws-worker-without-leader"),
        pytest.param(lws(), 1, None, id="lws-without-templates"),
    ],
)
def test_gpus_and_vllm_args_of_a_workload(workload: dict[str, Any], gpus: int, args: list[str] | None) -> None:
    # the GPU count and vLLM args come from the same template as the role and accelerator
    assert (gpus_per_replica(workload), vllm_args(workload)) == (gpus, args)
