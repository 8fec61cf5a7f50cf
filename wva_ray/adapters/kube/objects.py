"""Helpers on raw Kubernetes JSON objects: metadata, labels, pod readiness and liveness, and an index of live
pods for label-selector matching. Pure: no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from wva_ray.adapters.kube.client import JsonObj
from wva_ray.adapters.kube.inventory import FINISHED_PHASES
from wva_ray.adapters.kube.selectors import LabelSelector


def object_meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def object_labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return object_meta(obj).get("labels") or {}


def pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def pod_start_times(pod: Mapping[str, Any]) -> dict[str, datetime]:
    """`created_at` (metadata.creationTimestamp) and `ready_at` (the Ready condition's lastTransitionTime while it
    is True): the start-up delay analyzer learned learns from. Missing or unparsable times are left out."""
    out: dict[str, datetime] = {}
    created = object_meta(pod).get("creationTimestamp")
    ready = next(
        (
            c.get("lastTransitionTime")
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") == "Ready" and c.get("status") == "True"
        ),
        None,
    )
    for key, raw in (("created_at", created), ("ready_at", ready)):
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                out[key] = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return out if len(out) == 2 else {}


def pod_live(pod: Mapping[str, Any]) -> bool:
    """Not finished and not terminating: its metric series are current."""
    if object_meta(pod).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in FINISHED_PHASES


def strip_managed_fields(obj: JsonObj) -> JsonObj:
    """A VA as ``kubectl get -o json`` would print it, minus managedFields (noise in snapshots)."""
    meta = {k: v for k, v in object_meta(obj).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


class PodIndex:
    """Live pods by namespace and by (namespace, label, value), for selector matching without a full scan."""

    def __init__(self, pods: Iterable[JsonObj]) -> None:
        self.by_ns: dict[str, list[JsonObj]] = {}
        self.by_label: dict[tuple[str, str, str], list[JsonObj]] = {}
        for pod in pods:
            if not pod_live(pod):
                continue
            ns = str(object_meta(pod).get("namespace", ""))
            self.by_ns.setdefault(ns, []).append(pod)
            for k, v in object_labels(pod).items():
                self.by_label.setdefault((ns, k, v), []).append(pod)

    def select(self, namespace: str, selector: LabelSelector) -> list[JsonObj]:
        if selector.empty:
            return []  # an empty scale selector selects nothing we can attribute to the target
        candidates: list[JsonObj] | None = None
        for req in selector.requirements:
            if req.op == "In" and len(req.values) == 1:
                (value,) = req.values
                candidates = self.by_label.get((namespace, req.key, value), [])
                break
        if candidates is None:
            candidates = self.by_ns.get(namespace, [])
        return [p for p in candidates if selector.matches(object_labels(p))]
