"""A fake kubelet for the local control plane (test helper, does API I/O on a daemon thread).

Like kwok: it registers Nodes with GPU capacity and ``<vendor>/gpu.product`` labels, removes the
``node.kubernetes.io/not-ready`` taint the admission plugin adds, marks pods the scheduler bound to its
nodes Running and Ready, and removes pods that are terminating (no containers ever run).

With a ``backend`` (``wva_ray.testing.pod_backend.EmulatedPodBackend``) each pod it runs is backed by an
emulated vLLM engine of its own: before the pod is marked Running the engine is started and the pod is
annotated ``prometheus.io/scrape: "true"``, ``prometheus.io/port: <port>`` (podIP is 127.0.0.1); the engine
is stopped when the pod terminates or disappears.

Errors are never swallowed silently: API errors while the server is unreachable (connection refused, 5xx:
an API server restart) go to ``transient_errors``; anything else to ``errors``, which ``stop()`` asserts
empty (``stop(check=False)`` skips that).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import urllib3

from wva_ray.adapters.kube.client import KubeApi, KubeApiError, KubeConflict, KubeNotFound


@dataclass(frozen=True)
class FakeNode:
    name: str
    product: str = "NVIDIA-H100-80GB-HBM3"
    gpus: int = 8
    vendor: str = "nvidia.com"


class PodBackend(Protocol):
    """What runs behind a pod (see wva_ray.testing.pod_backend)."""

    def start(self, pod: dict[str, Any]) -> Any: ...  # returns an object with a `port`

    def stop(self, key: str) -> None: ...

    def pods(self) -> dict[str, Any]: ...


SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    """Runs until ``stop()``; ``poll_s`` bounds how quickly pods become Ready."""

    def __init__(
        self, api: KubeApi, nodes: list[FakeNode], poll_s: float = 0.3, backend: PodBackend | None = None
    ) -> None:
        self.api = api
        self.nodes = {n.name: n for n in nodes}
        self.poll_s = poll_s
        self.backend = backend
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)
        self.errors: list[str] = []
        self.transient_errors: list[tuple[float, str]] = []  # (time.time(), message)

    def start(self) -> FakeKubelet:
        for node in self.nodes.values():
            self.register(node)
        self._thread.start()
        return self

    def stop(self, check: bool = True) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if check:
            assert not self.errors, f"fake kubelet swallowed {len(self.errors)} errors: {self.errors[:5]}"

    def register(self, node: FakeNode) -> None:
        self.nodes[node.name] = node
        capacity = {
            "cpu": "1000",
            "memory": "4000Gi",
            "pods": "1000",
            f"{node.vendor}/gpu": str(node.gpus),
        }
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "labels": {
                    "kubernetes.io/hostname": node.name,
                    f"{node.vendor}/gpu.product": node.product,
                    "type": "fake-kubelet",
                },
            },
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "fake kubelet",
                        "lastHeartbeatTime": _now(),
                        "lastTransitionTime": _now(),
                    }
                ],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            },
        }
        with contextlib.suppress(KubeConflict):
            self.api.post("/api/v1/nodes", body)
        self._untaint(node.name)

    def _untaint(self, name: str) -> None:
        for _ in range(10):
            node = self.api.get(f"/api/v1/nodes/{name}")
            taints = node.get("spec", {}).get("taints") or []
            kept = [t for t in taints if not t.get("key", "").startswith("node.kubernetes.io/")]
            if len(kept) == len(taints) and node.get("status", {}).get("allocatable"):
                return
            node["spec"]["taints"] = kept or None
            try:
                self.api.put(f"/api/v1/nodes/{name}", node)
            except KubeConflict:
                continue
            return

    def _sync_once(self) -> None:
        pods = self.api.get("/api/v1/pods").get("items", [])
        live: set[str] = set()
        for pod in pods:
            meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
            node = spec.get("nodeName")
            if node not in self.nodes:
                continue
            key = f"{meta['namespace']}/{meta['name']}"
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
            if meta.get("deletionTimestamp"):
                if self.backend is not None:
                    self.backend.stop(key)
                with contextlib.suppress(KubeNotFound):
                    self.api.delete(path, {"gracePeriodSeconds": "0"})
                continue
            live.add(key)
            if status.get("phase") == "Running":
                continue
            if self.backend is not None:
                port = self.backend.start(pod).port
                annotations = {SCRAPE_ANNOTATION: "true", PORT_ANNOTATION: str(port)}
                try:
                    self.api.patch(path, {"metadata": {"annotations": annotations}})
                except KubeNotFound:
                    self.backend.stop(key)
                    continue
            now = _now()
            conditions = [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ]
            containers = [
                {
                    "name": c["name"],
                    "image": c.get("image", "fake"),
                    "imageID": "fake://",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in spec.get("containers", [])
            ]
            body = {
                "status": {
                    "phase": "Running",
                    "conditions": conditions,
                    "hostIP": "127.0.0.1",
                    "podIP": "127.0.0.1",
                    "startTime": now,
                    "containerStatuses": containers,
                }
            }
            with contextlib.suppress(KubeNotFound):
                self.api.patch(f"{path}/status", body, "application/strategic-merge-patch+json")
        if self.backend is not None:  # pods gone without a terminating phase seen (namespace deleted, ...)
            for key in set(self.backend.pods()) - live:
                self.backend.stop(key)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._sync_once()
            except KubeApiError as exc:
                if exc.status >= 500:
                    self.transient_errors.append((time.time(), str(exc)))
                else:
                    self.errors.append(str(exc))
            except (urllib3.exceptions.HTTPError, ConnectionError) as exc:  # the API server is down
                self.transient_errors.append((time.time(), repr(exc)))
            except Exception as exc:
                self.errors.append(repr(exc))
