"""Emulated vLLM engines backing the pods of a local control plane (test rig; network I/O via the emulator).

A fake kubelet (tests/kube/fake_kubelet.py) calls `start(pod)` when it marks a pod Running and `stop(key)` when
the pod goes away: each pod gets an emulated vLLM endpoint of its own, on its own loopback port, so Prometheus
scrapes one target per pod as in a cluster. The port is written to the pod's annotations
(`prometheus.io/port`), which `PodDiscovery` (pod_discovery.py) turns into file_sd targets.

The model a pod serves is its container's `--model` argument (else `default_model`). Every engine shares one
replica-model `Profile` (`LOOP_PROFILE` by default: a deliberately small KV cache so a few requests per second
saturate one replica on a 2-core machine).

Faults: `break_metrics(key)` closes the pod's endpoint while the Kubernetes pod stays Ready (a hung or crashed
engine: scrapes fail); `heal_metrics(key)` serves it again on the same port, with fresh counters.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wva_ray.sim.emulator.server import PodSpec
from wva_ray.sim.emulator.thread import EmulatorThread
from wva_ray.sim.model.profiles import Profile

LOOP_PROFILE = Profile(
    id="loop-small/H100",
    model="m1",
    accelerator="H100",
    gpus=1,
    alpha_ms=15.0,
    beta_ms=1.0,
    gamma_ms_per_1k_kv=0.0,
    prefill_tokens_per_s=20000.0,
    kv_capacity_tokens=4096,
    max_num_seqs=16,
    startup_s=0.0,
    relative_cost=1.0,
)


@dataclass(frozen=True, slots=True)
class Backed:
    """One pod's engine: where it listens and what it serves."""

    key: str  # "<namespace>/<pod>"
    namespace: str
    pod: str
    model: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def pod_model(pod: Mapping[str, Any], default: str) -> str:
    """The `--model X` (or `--model=X`) argument of the pod's first container, else `default`."""
    containers = (pod.get("spec") or {}).get("containers") or []
    args = [str(a) for a in (containers[0].get("args") or [])] if containers else []
    for i, arg in enumerate(args):
        if arg == "--model" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--model="):
            return arg.split("=", 1)[1]
    return default


class EmulatedPodBackend:
    """One emulator thread serving one endpoint per pod. Thread-safe (the kubelet thread and tests call it)."""

    def __init__(
        self, profile: Profile = LOOP_PROFILE, default_model: str = "m1", startup_delay_s: float = 1.0
    ) -> None:
        self.profile = profile
        self.default_model = default_model
        self.startup_delay_s = startup_delay_s
        self._emu = EmulatorThread()
        self._lock = threading.Lock()
        self._pods: dict[str, Backed] = {}
        self._broken: set[str] = set()
        self.started_total = 0
        self.stopped_total = 0

    def pods(self) -> dict[str, Backed]:
        with self._lock:
            return dict(self._pods)

    def get(self, key: str) -> Backed | None:
        with self._lock:
            return self._pods.get(key)

    def start(self, pod: Mapping[str, Any]) -> Backed:
        """Serve an engine for `pod` (idempotent: a pod already backed keeps its port)."""
        meta = pod["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self._lock:
            if key in self._pods:
                return self._pods[key]
            model = pod_model(pod, self.default_model)
            self._emu.start_pod(self._spec(key, meta["namespace"], model, 0))
            port = self._emu.emulator.pods[key].port
            backed = Backed(key, meta["namespace"], meta["name"], model, port)
            self._pods[key] = backed
            self.started_total += 1
            return backed

    def _spec(self, key: str, namespace: str, model: str, port: int) -> PodSpec:
        return PodSpec(
            name=key,
            model=model,
            namespace=namespace,
            port=port,
            profile=self.profile.model_copy(update={"model": model}),
            startup_delay_s=self.startup_delay_s,
            seed=abs(hash(key)) % 10_000,
        )

    def stop(self, key: str) -> None:
        """Stop the pod's engine (no-op for an unknown key)."""
        with self._lock:
            backed = self._pods.pop(key, None)
            if backed is None:
                return
            if key not in self._broken:
                self._emu.stop_pod(key)
            self._broken.discard(key)
            self.stopped_total += 1

    def break_metrics(self, key: str) -> None:
        """The engine stops answering (connection refused) while the pod stays Ready."""
        with self._lock:
            if key in self._pods and key not in self._broken:
                self._emu.stop_pod(key)
                self._broken.add(key)

    def heal_metrics(self, key: str) -> None:
        with self._lock:
            backed = self._pods.get(key)
            if backed is None or key not in self._broken:
                return
            self._emu.start_pod(self._spec(key, backed.namespace, backed.model, backed.port))
            self._broken.discard(key)

    def broken(self) -> set[str]:
        with self._lock:
            return set(self._broken)

    def close(self) -> None:
        self._emu.close()
        with self._lock:
            self._pods.clear()
            self._broken.clear()
