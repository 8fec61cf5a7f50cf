"""Pod-template facts for annotation discovery (pure functions over JSON dicts, no I/O).

- ``pod_template``: the pod template of a workload; for a LeaderWorkerSet the leader template (else the worker's).
- ``node_affinity_terms``: the required nodeAffinity ``In`` expressions, key -> values.
- ``owner_workload``: the workload a pod belongs to through its owner references (Pod -> ReplicaSet ->
  Deployment by the Deployment controller's naming rule, Pod -> StatefulSet, Pod -> LeaderWorkerSet).
- ``looks_like_vllm``: whether a pod runs vLLM (only such pods count as attribution misses; ours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"


def pod_template(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec.template`` (or a LeaderWorkerSet's leader template, else its worker template); ``{}`` if absent."""
    spec = workload.get("spec") or {}
    lws = spec.get("leaderWorkerTemplate")
    if isinstance(lws, Mapping):
        template = lws.get("leaderTemplate") or lws.get("workerTemplate") or {}
    else:
        template = spec.get("template") or {}
    return template if isinstance(template, Mapping) else {}


def template_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((pod_template(workload).get("metadata") or {}).get("labels") or {}).items()}


def template_node_selector(workload: Mapping[str, Any]) -> dict[str, str]:
    selector = (pod_template(workload).get("spec") or {}).get("nodeSelector") or {}
    return {str(k): str(v) for k, v in selector.items()}


def node_affinity_terms(workload: Mapping[str, Any]) -> dict[str, list[str]]:
    """Required nodeAffinity ``In`` match expressions of the pod template, key -> values (first term first)."""
    affinity = ((pod_template(workload).get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    out: dict[str, list[str]] = {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in (term or {}).get("matchExpressions") or []:
            if expr.get("operator") == "In" and expr.get("key"):
                out.setdefault(str(expr["key"]), []).extend(str(v) for v in expr.get("values") or [])
    return out


def owner_workload(pod: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the workload that owns a pod: Deployment, StatefulSet or LeaderWorkerSet; else None."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(LWS_NAME_LABEL):
        return "LeaderWorkerSet", str(labels[LWS_NAME_LABEL])
    refs = meta.get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref:
        return None
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    if kind == "ReplicaSet":
        pod_hash = str(labels.get(POD_TEMPLATE_HASH_LABEL, ""))
        # the Deployment controller names its ReplicaSets "<deployment>-<pod-template-hash>"
        if pod_hash and name.endswith(f"-{pod_hash}"):
            return "Deployment", name[: -len(pod_hash) - 1]
        return "ReplicaSet", name
    if kind in ("StatefulSet", "LeaderWorkerSet"):
        return kind, name
    return None


def looks_like_vllm(pod: Mapping[str, Any]) -> bool:
    """A container named, built or started as vLLM (``vllm`` in its name, image, command or args)."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        words = [c.get("name", ""), c.get("image", ""), *(c.get("command") or []), *(c.get("args") or [])]
        if any("vllm" in str(w).lower() for w in words):
            return True
    return False
