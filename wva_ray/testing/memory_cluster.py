"""An in-memory stand-in for the Kubernetes API: VariantAutoscalings, scale targets and their pods. No network
I/O; state lives in this object (host it in a Ray actor to share it between the coordinator and tests).

Used by `wva-ray demo` (each variant an in-memory scale target whose pods are emulated vLLM servers), by the
fault tests and by the runtime benchmark. Status writes follow the same rules as the Kubernetes publisher
(`adapters.kube_status.plan_status`: write only on semantic change or heartbeat); scale writes set
`spec.replicas` and create or delete pods, each becoming ready after a start-up delay.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wva_ray.adapters.kube.status import plan_status
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Pod, PodMetrics, ScaleTarget, Snapshot, SnapshotConfig
from wva_ray.api.va import ACCELERATOR_LABEL, VariantAutoscaling
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef


@dataclass
class MemoryPod:
    name: str
    created_s: float
    ready_s: float


@dataclass
class MemoryTarget:
    namespace: str
    name: str
    spec_replicas: int
    gpus_per_replica: int
    startup_s: float
    pods: list[MemoryPod] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One variant to create: a VA plus its Deployment-like target of the same name."""

    name: str
    model_id: str
    accelerator: str
    cost: float = 10.0
    replicas: int = 1
    gpus_per_replica: int = 1
    startup_s: float = 0.0
    namespace: str = "default"
    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """One status write, recorded for tests and the demo ("status never goes backwards")."""

    key: str
    at: datetime
    desired: int | None
    applied: bool


class MemoryCluster:
    """VAs (raw JSON, as the API server stores them), targets and pods, driven by a monotonic clock."""

    def __init__(
        self,
        monotonic: Callable[[], float],
        config: SnapshotConfig | None = None,
        heartbeat_s: float = 300.0,
    ) -> None:
        self._now_s = monotonic
        self.config = config or SnapshotConfig()
        self.heartbeat_s = heartbeat_s
        self.vas: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, MemoryTarget] = {}
        self.writes: list[StatusWrite] = []
        self.scale_writes = 0
        self._parsed: dict[str, tuple[str, VariantAutoscaling]] = {}
        # scripted metrics (benchmark, fault tests): per model (kv, queue) for every ready pod; outage switch
        self.load: dict[str, tuple[float, float]] = {}
        self.metrics_outage = False
        self._seq = itertools.count(1)
        self._resource_version = itertools.count(1)

    # ---- set-up -------------------------------------------------------------------------------------
    def add_variant(self, spec: VariantSpec) -> None:
        key = f"{spec.namespace}/{spec.name}"
        va_spec: dict[str, Any] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "modelID": spec.model_id,
            "variantCost": f"{spec.cost:.2f}",
        }
        if spec.min_replicas is not None:
            va_spec["minReplicas"] = spec.min_replicas
        if spec.max_replicas is not None:
            va_spec["maxReplicas"] = spec.max_replicas
        self.vas[key] = {
            "apiVersion": "llmd.ai/v1alpha1",
            "kind": "VariantAutoscaling",
            "metadata": {
                "name": spec.name,
                "namespace": spec.namespace,
                "labels": {ACCELERATOR_LABEL: spec.accelerator},
                "generation": 1,
                "resourceVersion": str(next(self._resource_version)),
            },
            "spec": va_spec,
        }
        self.targets[key] = MemoryTarget(spec.namespace, spec.name, 0, spec.gpus_per_replica, spec.startup_s)
        self.scale(spec.namespace, spec.name, spec.replicas, ready_now=True)

    def delete_variant(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        self.scale(namespace, name, 0)
        self.vas.pop(key, None)
        self.targets.pop(key, None)
        self._parsed.pop(key, None)  # else a fleet whose VAs come and go keeps every parsed VA

    # ---- pods (override in subclasses to attach real emulated servers) -------------------------------
    def on_pod_created(self, target: MemoryTarget, pod: MemoryPod) -> None:
        """Hook: a pod was created."""

    def on_pod_deleted(self, target: MemoryTarget, pod: MemoryPod) -> None:
        """Hook: a pod was deleted."""

    def pod_name(self, target: MemoryTarget) -> str:
        """Hook: the name of the next pod of `target`."""
        return f"{target.name}-{next(self._seq):05d}"

    def pod_ready(self, target: MemoryTarget, pod: MemoryPod) -> bool:
        return self._now_s() >= pod.ready_s

    def scale(self, namespace: str, name: str, replicas: int, ready_now: bool = False) -> bool:
        """Set the target's replicas; True when it changed. Pods are added (newest last) or removed (newest
        first, as a ReplicaSet prefers not-ready and younger pods)."""
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, got {replicas} for {namespace}/{name}")
        target = self.targets.get(f"{namespace}/{name}")
        if target is None:
            return False
        changed = target.spec_replicas != replicas
        target.spec_replicas = replicas
        now = self._now_s()
        while len(target.pods) < replicas:
            pod = MemoryPod(self.pod_name(target), now, now if ready_now else now + target.startup_s)
            target.pods.append(pod)
            self.on_pod_created(target, pod)
        while len(target.pods) > replicas:
            pod = target.pods.pop()
            self.on_pod_deleted(target, pod)
        if changed:
            self.scale_writes += 1
        return changed

    # ---- reads --------------------------------------------------------------------------------------
    def observe(self, now: datetime) -> Snapshot:
        """The cluster as a Snapshot without metrics."""
        vas = [self._parsed_va(key, obj) for key, obj in self.vas.items()]
        targets, pods = [], []
        for t in self.targets.values():
            ready = [p for p in t.pods if self.pod_ready(t, p)]
            targets.append(
                ScaleTarget(
                    namespace=t.namespace,
                    name=t.name,
                    spec_replicas=t.spec_replicas,
                    status_replicas=len(t.pods),
                    ready_replicas=len(ready),
                    gpus_per_replica=t.gpus_per_replica,
                )
            )
            pods += [Pod(namespace=t.namespace, name=p.name, target=t.name, ready=p in ready) for p in t.pods]
        return Snapshot(now=now, config=self.config, variant_autoscalings=vas, scale_targets=targets, pods=pods)

    def _parsed_va(self, key: str, obj: dict[str, Any]) -> VariantAutoscaling:
        """Parse once per resourceVersion (like an informer cache)."""
        rv = str(obj["metadata"]["resourceVersion"])
        cached = self._parsed.get(key)
        if cached is None or cached[0] != rv:
            cached = (rv, VariantAutoscaling.model_validate(obj))
            self._parsed[key] = cached
        return cached[1]

    def desired(self, namespace: str, name: str) -> int | None:
        status = self.vas.get(f"{namespace}/{name}", {}).get("status") or {}
        alloc = status.get("desiredOptimizedAlloc") or {}
        value = alloc.get("numReplicas")
        return int(value) if value is not None else None

    def va(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.vas.get(f"{namespace}/{name}")
        return copy.deepcopy(obj) if obj is not None else None

    # ---- writes -------------------------------------------------------------------------------------
    def write_status(self, decisions: Sequence[Decision], now: datetime, direct: bool = False) -> int:
        """Status for every decision (and, with `direct`, the target's replicas); returns status writes."""
        written = 0
        for d in decisions:
            obj = self.vas.get(d.key)
            if obj is None:
                continue
            applied = True
            if direct and d.publish and not d.held:
                self.scale(d.namespace, d.name, d.desired_replicas)
            change = plan_status(obj, d, now, applied=applied, heartbeat_s=self.heartbeat_s)
            if change is None:
                continue
            obj["status"] = change.status
            obj["metadata"]["resourceVersion"] = str(next(self._resource_version))
            self.writes.append(StatusWrite(d.key, now, self.desired(d.namespace, d.name), applied))
            written += 1
        return written

    # ---- scripted metrics ---------------------------------------------------------------------------
    def set_load(self, model_id: str, kv: float, queue: float) -> None:
        self.load[model_id] = (kv, queue)

    def set_metrics_outage(self, outage: bool) -> None:
        self.metrics_outage = outage

    def scripted_pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        """One row per ready pod of `groups` with the model's scripted (kv, queue); raises during an outage."""
        if self.metrics_outage:
            raise MetricsUnavailableError("scripted metrics outage")
        wanted = {(g.namespace, g.model_id) for g in groups}
        rows = []
        for key, obj in self.vas.items():
            ns, model = obj["metadata"]["namespace"], obj["spec"]["modelID"]
            if (ns, model) not in wanted or model not in self.load:
                continue
            kv, queue = self.load[model]
            target = self.targets[key]
            rows += [
                PodMetrics(namespace=ns, model_name=model, pod=p.name, kv_cache_usage=kv, queue_length=queue)
                for p in target.pods
                if self.pod_ready(target, p)
            ]
        return rows
