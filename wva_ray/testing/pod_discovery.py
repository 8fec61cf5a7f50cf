"""Kubernetes pod discovery for a local Prometheus, the way `kubernetes_sd_configs` (role: pod) with the usual
`prometheus.io/*` annotation relabelling works in a cluster (test rig; API and file I/O on a daemon thread).

Every `poll_s` it lists the pods of the watched namespaces and writes Prometheus `file_sd` targets: one group
per Running and Ready pod annotated `prometheus.io/scrape: "true"`, target `<podIP>:<prometheus.io/port>`,
labels `namespace` and `pod` (what the cluster's relabelling produces and what wva-ray's queries join on),
plus fixed `static` groups (the controller's own gauges endpoint). `ready_endpoints()` is what a Service would
route to: the same Ready pods' URLs.

API errors (an API server restart) keep the last targets: Prometheus keeps scraping what it knew, as it does
when its Kubernetes watch breaks. They are counted in `errors`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wva_ray.adapters.kube.client import KubeApi

SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"


@dataclass(frozen=True, slots=True)
class Endpoint:
    namespace: str
    pod: str
    url: str


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def scrape_groups(pods: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Endpoint]]:
    """file_sd groups and endpoints of the Ready, annotated pods (sorted by namespace and name)."""
    groups: list[dict[str, Any]] = []
    endpoints: list[Endpoint] = []
    for pod in sorted(pods, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
        meta = pod["metadata"]
        notes = meta.get("annotations") or {}
        ip = (pod.get("status") or {}).get("podIP")
        if not _ready(pod) or notes.get(SCRAPE_ANNOTATION) != "true" or not ip or not notes.get(PORT_ANNOTATION):
            continue
        target = f"{ip}:{notes[PORT_ANNOTATION]}"
        groups.append({"targets": [target], "labels": {"namespace": meta["namespace"], "pod": meta["name"]}})
        endpoints.append(Endpoint(meta["namespace"], meta["name"], f"http://{target}"))
    return groups, endpoints


class PodDiscovery:
    """Writes file_sd targets from the pod list until `stop()`."""

    def __init__(
        self,
        api: KubeApi,
        namespaces: Sequence[str],
        write_targets: Callable[[list[dict[str, Any]]], None],
        static: Sequence[dict[str, Any]] = (),
        poll_s: float = 0.5,
    ) -> None:
        self.api = api
        self.namespaces = list(namespaces)
        self.write_targets = write_targets
        self.static = list(static)
        self.poll_s = poll_s
        self.errors = 0
        self.last_error = ""
        self._endpoints: list[Endpoint] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pod-discovery", daemon=True)

    def start(self) -> PodDiscovery:
        self.sync()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def set_static(self, static: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            self.static = list(static)

    def ready_endpoints(self, namespace: str | None = None) -> list[Endpoint]:
        with self._lock:
            return [e for e in self._endpoints if namespace is None or e.namespace == namespace]

    def sync(self) -> None:
        pods: list[dict[str, Any]] = []
        for ns in self.namespaces:
            pods.extend(self.api.get(f"/api/v1/namespaces/{ns}/pods").get("items") or [])
        groups, endpoints = scrape_groups(pods)
        with self._lock:
            self._endpoints = endpoints
            static = list(self.static)
        self.write_targets(static + groups)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sync()
            except Exception as exc:  # keep the last targets (see the module docstring)
                self.errors += 1
                self.last_error = f"{time.strftime('%H:%M:%S')} {exc!r}"
