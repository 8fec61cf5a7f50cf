"""Kubernetes Events (core/v1) as wva-ray writes them: the one Event shape (``event_body``, pure) and its
best-effort POST (``post_event``, does I/O). Used for VA transitions (``publish``) and for annotated scalers
(``scaler_events``); an Event never fails a cycle.
"""

from __future__ import annotations

from datetime import datetime

from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError
from wva_ray.adapters.kube.status import format_time

COMPONENT = "wva-ray"


def event_body(involved: JsonObj, reason: str, message: str, *, warning: bool, identity: str, now: datetime) -> JsonObj:
    """An Event about ``involved`` (its apiVersion, kind, name, namespace and, when known, uid), counted once."""
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{involved['name']}.", "namespace": involved["namespace"]},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": identity,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def post_event(api: KubeApi, body: JsonObj) -> str | None:
    """POST the Event into its namespace; the error text when it was not recorded, else None."""
    try:
        api.post(f"/api/v1/namespaces/{body['metadata']['namespace']}/events", body)
    except KubeApiError as exc:
        return str(exc)
    return None
