"""Kubernetes reading side of wva-ray: watched cluster state -> ``wva_ray.api.snapshot.Snapshot`` (does I/O).

``KubeReader`` keeps list-and-watch caches (``cache.WatchCache``, one daemon thread each) of the owned
VariantAutoscalings (controller-instance label, ``WATCH_NAMESPACE``), pods, nodes, namespaces (the
``wva.llmd.ai/exclude`` annotation), the saturation and scale-to-zero ConfigMaps (global in
``POD_NAMESPACE`` and namespace-local) and every workload kind a VA targets. ``read()`` assembles a
``ClusterState`` from the caches; the only requests it makes are a ``/scale`` GET for a target whose
object changed since its scale was last read, and discovery for a kind seen for the first time, so a
steady-state cycle costs no API requests beyond the watch streams. The reader also remembers the last
valid version of each saturation and scale-to-zero ConfigMap entry and puts it in the snapshot while the
ConfigMap holds an invalid one (``core.last_valid``; the memory lives as long as the reader, i.e. the
coordinator). The values it returns are in ``cluster_state``, the raw-object helpers in ``objects``, the
one-shot read of ``plan --from-cluster`` in ``live_snapshot``.

Blocking and the event loop: every HTTP call here is blocking (the official ``kubernetes`` client is
synchronous). Watches run on their own daemon threads; ``KubeReader.read`` must be called off the event
loop, which ``read_async`` does with ``asyncio.to_thread``. Nothing in this module is called from a
coroutine directly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from wva_ray.adapters.kube.annotated_read import ReadAccumulator, read_annotated
from wva_ray.adapters.kube.cache import WatchCache
from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError, KubeNotFound
from wva_ray.adapters.kube.cluster_state import ClusterState, ScaleTargetObject
from wva_ray.adapters.kube.discovery import ResourceType, RestMapper, UnknownKind
from wva_ray.adapters.kube.inventory import gpu_available, gpus_per_replica, pod_spec_gpus, vllm_args
from wva_ray.adapters.kube.objects import (
    PodIndex,
    object_meta,
    pod_live,
    pod_ready,
    pod_start_times,
    strip_managed_fields,
)
from wva_ray.adapters.kube.scalers import ScalerWatches
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.adapters.kube.templates import node_affinity_terms, template_labels, template_node_selector
from wva_ray.api.snapshot import NamespaceConfig, Pod, ScaleTarget, SnapshotConfig
from wva_ray.api.va import (
    ACCELERATOR_LABEL,
    CONTROLLER_INSTANCE_LABEL,
    EXCLUDE_ANNOTATION,
    GROUP,
    PLURAL,
    VERSION,
    VariantAutoscaling,
)
from wva_ray.core.accelerator import accelerator_from_node_selector
from wva_ray.core.last_valid import ConfigMapNames, LastValid, keep_last_valid
from wva_ray.core.ports import TransientApiError

log = logging.getLogger(__name__)

VA_BASE = f"/apis/{GROUP}/{VERSION}"
# Kinds whose status.readyReplicas is authoritative (omitted by the server when 0).
READY_REPLICAS_KINDS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")})
SYNC_TIMEOUT_S = 30.0


def va_collection_path(namespace: str | None = None) -> str:
    return f"{VA_BASE}/namespaces/{namespace}/{PLURAL}" if namespace else f"{VA_BASE}/{PLURAL}"


def va_served(api: KubeApi) -> bool:
    """True when the API server serves the VariantAutoscaling CRD (WVA v0.9 installs have none)."""
    try:
        doc = api.get(VA_BASE)
    except KubeNotFound:
        return False
    return any(r.get("name") == PLURAL for r in doc.get("resources") or [])


class KubeReader:
    """Watched cluster state for one controller instance; thread-safe ``read()``.

    With ``WATCH_NAMESPACE`` the VA, pod, workload and ConfigMap watches are namespaced (nodes stay
    cluster-scoped for the inventory), so the GPU inventory only subtracts that namespace's pods;
    cluster-wide (the default) it subtracts every pod bound to a GPU node.
    """

    def __init__(self, api: KubeApi, settings: KubeSettings, mapper: RestMapper | None = None) -> None:
        self.api = api
        self.settings = settings
        self.mapper = mapper or RestMapper(api)
        ns = settings.watch_namespace
        va_selector = (
            f"{CONTROLLER_INSTANCE_LABEL}={settings.controller_instance}" if settings.controller_instance else None
        )
        self._vas = WatchCache(api, va_collection_path(ns), label_selector=va_selector)
        self._pods = WatchCache(api, f"/api/v1/namespaces/{ns}/pods" if ns else "/api/v1/pods")
        self._nodes = WatchCache(api, "/api/v1/nodes")
        self._namespaces = None if ns else WatchCache(api, "/api/v1/namespaces")
        cm_namespaces = sorted({ns, settings.pod_namespace}) if ns else [None]
        self._config_maps = [
            WatchCache(
                api,
                f"/api/v1/namespaces/{cm_ns}/configmaps" if cm_ns else "/api/v1/configmaps",
                field_selector=f"metadata.name={name}",
            )
            for cm_ns in cm_namespaces
            for name in (settings.saturation_config_map, settings.scale_to_zero_config_map)
        ]
        self._config_maps += [
            WatchCache(
                api, f"/api/v1/namespaces/{settings.pod_namespace}/configmaps", field_selector=f"metadata.name={name}"
            )
            for name in (
                settings.service_classes_config_map,
                settings.slo_profiles_config_map,
                settings.queueing_model_config_map,
            )
        ]
        self._workloads: dict[str, WatchCache] = {}
        self.scalers = ScalerWatches(api, watch_namespace=ns, controller_instance=settings.controller_instance)
        self._scales: dict[str, tuple[str, JsonObj]] = {}  # scale path -> (workload rv, scale)
        self._names = ConfigMapNames(
            settings.saturation_config_map, settings.scale_to_zero_config_map, settings.pod_namespace
        )
        self._last_valid = LastValid()  # the last valid version of each ConfigMap entry (core.last_valid)
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------------------
    def _core_caches(self) -> list[WatchCache]:
        caches = [self._vas, self._pods, self._nodes, *self._config_maps]
        return caches + ([self._namespaces] if self._namespaces else [])

    def start(self, timeout_s: float = SYNC_TIMEOUT_S) -> KubeReader:
        """Start the watches and wait until each has listed once (raises ``TransientApiError`` otherwise)."""
        for cache in self._core_caches():
            cache.start()
        va_crd = va_served(self.api)
        if not va_crd:  # WVA v0.9 installs have no VA CRD: annotated scalers only (the watch retries meanwhile)
            log.info("VariantAutoscaling CRD not served: discovering annotated HPAs and ScaledObjects only")
        for cache in self._core_caches():
            if cache is self._vas and not va_crd:
                continue
            if cache.path == "/api/v1/nodes" and not cache.wait_synced(timeout_s):
                log.warning("node inventory not readable: %s", cache.last_error)
                continue
            if not cache.wait_synced(timeout_s):
                raise TransientApiError(f"watch {cache.path} not synced in {timeout_s}s: {cache.last_error}")
        self.scalers.start(timeout_s)
        return self

    def stop(self) -> None:
        for cache in [*self._core_caches(), *self._workloads.values()]:
            cache.stop()
        self.scalers.stop()

    async def read_async(self, now: datetime | None = None) -> ClusterState:
        """``read()`` on a worker thread (keeps the event loop free)."""
        return await asyncio.to_thread(self.read, now)

    # -- targets ----------------------------------------------------------------------------------------
    def _workload_cache(self, resource: ResourceType) -> WatchCache:
        path = resource.collection_path(self.settings.watch_namespace)
        with self._lock:
            cache = self._workloads.get(path)
            if cache is None:
                cache = self._workloads[path] = WatchCache(self.api, path).start()
        if not cache.wait_synced(SYNC_TIMEOUT_S):
            raise TransientApiError(f"watch {path} not synced: {cache.last_error}")
        return cache

    def _scale(self, resource: ResourceType, namespace: str, name: str, workload: JsonObj) -> JsonObj | None:
        path = resource.scale_path(namespace, name)
        rv = str(object_meta(workload).get("resourceVersion", ""))
        with self._lock:
            cached = self._scales.get(path)
        if cached is not None and cached[0] == rv:
            return cached[1]
        try:
            scale = self.api.get(path)
        except KubeNotFound:
            return None
        except KubeApiError as exc:
            raise TransientApiError(f"GET {path}: {exc}") from exc
        with self._lock:
            self._scales[path] = (rv, scale)
        return scale

    def resolve_target(self, va: VariantAutoscaling) -> ScaleTargetObject | str:
        """The VA's target, or a message saying why it cannot be resolved (TargetResolved=False)."""
        ref = va.spec.scale_target_ref
        ns = va.metadata.namespace
        try:
            resource = self.mapper.resolve(ref.api_version, ref.kind)
        except UnknownKind as exc:
            return str(exc)
        except KubeApiError as exc:
            raise TransientApiError(f"discovery for {ref.kind}: {exc}") from exc
        workload = self._workload_cache(resource).get(ns if resource.namespaced else "", ref.name)
        if workload is None:
            return f"scale target {ref.kind} {ns}/{ref.name} not found"
        scale = self._scale(resource, ns, ref.name, workload)
        if scale is None:
            return f"scale target {ref.kind} {ns}/{ref.name} not found"
        return ScaleTargetObject(resource=resource, namespace=ns, name=ref.name, scale=scale, workload=workload)

    # -- assembly ---------------------------------------------------------------------------------------
    def _excluded_namespaces(self) -> set[str]:
        if self._namespaces is None:
            return set()
        return {
            str(object_meta(n).get("name"))
            for n in self._namespaces.items()
            if str((object_meta(n).get("annotations") or {}).get(EXCLUDE_ANNOTATION, "")).lower() == "true"
        }

    def _owned_vas(self) -> tuple[list[tuple[VariantAutoscaling, JsonObj]], dict[str, str]]:
        excluded = self._excluded_namespaces()
        owned: list[tuple[VariantAutoscaling, JsonObj]] = []
        invalid: dict[str, str] = {}
        for raw in self._vas.items():
            meta = object_meta(raw)
            if meta.get("deletionTimestamp") or meta.get("namespace") in excluded:
                continue
            stripped = strip_managed_fields(raw)
            try:
                owned.append((VariantAutoscaling.model_validate(stripped), stripped))
            except ValidationError as exc:
                key = f"{meta.get('namespace')}/{meta.get('name')}"
                invalid[key] = str(exc).replace("\n", "; ")
                log.warning("va=%s skipped: invalid object: %s", key, invalid[key])
        owned.sort(key=lambda pair: (pair[0].metadata.namespace, pair[0].metadata.name))
        return owned, invalid

    def _config(self) -> SnapshotConfig:
        s = self.settings
        saturation: dict[str, Any] = {}
        scale_to_zero: dict[str, Any] = {}
        local: dict[str, dict[str, dict[str, Any]]] = {}
        service_classes: dict[str, Any] = {}
        slo_profiles: dict[str, Any] = {}
        queueing_model: dict[str, Any] = {}
        for cache in self._config_maps:
            for cm in cache.items():
                ns, name = str(object_meta(cm).get("namespace")), str(object_meta(cm).get("name"))
                data = dict(cm.get("data") or {})
                if ns == s.pod_namespace and name == s.service_classes_config_map:
                    service_classes.update(data)
                    continue
                if ns == s.pod_namespace and name == s.slo_profiles_config_map:
                    slo_profiles.update(data)
                    continue
                if ns == s.pod_namespace and name == s.queueing_model_config_map:
                    queueing_model.update(data)
                    continue
                kind = "saturation" if name == s.saturation_config_map else "scaleToZero"
                if ns == s.pod_namespace:
                    (saturation if kind == "saturation" else scale_to_zero).update(data)
                else:
                    local.setdefault(ns, {}).setdefault(kind, {}).update(data)
        return SnapshotConfig(
            saturation=saturation,
            scale_to_zero=scale_to_zero,
            namespaces={ns: NamespaceConfig.model_validate(v) for ns, v in sorted(local.items())},
            scale_to_zero_fallback=s.scale_to_zero_fallback,
            service_classes=service_classes,
            slo_profiles=slo_profiles,
            queueing_model=queueing_model,
        )

    def _scale_target(self, target: ScaleTargetObject, live_pods: Sequence[JsonObj]) -> ScaleTarget:
        workload = target.workload
        status = workload.get("status") or {}
        group = target.resource.group_version.split("/")[0] if "/" in target.resource.group_version else ""
        if (group, target.resource.kind) in READY_REPLICAS_KINDS or "readyReplicas" in status:
            ready = int(status.get("readyReplicas", 0))
        else:
            ready = sum(1 for p in live_pods if pod_ready(p))
        return ScaleTarget(
            api_version=target.resource.group_version,
            kind=target.resource.kind,
            namespace=target.namespace,
            name=target.name,
            spec_replicas=target.spec_replicas,
            status_replicas=int((target.scale.get("status") or {}).get("replicas", 0)),
            ready_replicas=ready,
            gpus_per_replica=gpus_per_replica(workload),
            vllm_args=vllm_args(workload) or [],
            node_selector=template_node_selector(workload),
            node_affinity=node_affinity_terms(workload),
            pod_labels=template_labels(workload),
            deleting=bool(object_meta(workload).get("deletionTimestamp")),
        )

    def _inventory(
        self, all_pods: Sequence[JsonObj], pending_by_accelerator: Mapping[str, float]
    ) -> tuple[dict[str, float] | None, str | None]:
        if not self._nodes.synced:
            return None, f"node inventory not readable: {self._nodes.last_error}"
        free = gpu_available(self._nodes.items(), all_pods, self.settings.node_selector or None)
        result: dict[str, float] = {k: float(v) for k, v in free.items()}
        for accelerator, gpus in pending_by_accelerator.items():
            if accelerator in result:
                result[accelerator] = max(0.0, result[accelerator] - gpus)
        return dict(sorted(result.items())), None

    def _effective_config(self, now: datetime) -> SnapshotConfig:
        """The ConfigMaps as read, with each entry that turned invalid replaced by its last valid version (and a
        note saying so); the memory of last valid versions is this reader's, kept from one read to the next."""
        with self._lock:
            kept = keep_last_valid(self._config(), self._last_valid, now, self._names)
            self._last_valid = kept.memory
        return kept.config  # the notes reach the log and an Event as plan warnings

    def read(self, now: datetime | None = None) -> ClusterState:
        """One consistent-enough view of the cluster from the caches (blocking: call off the event loop).

        ``now`` (default: the clock) dates an entry first seen invalid in the notes on kept entries."""
        owned, invalid = self._owned_vas()
        all_pods = self._pods.items()
        index = PodIndex(all_pods)
        targets: dict[str, ScaleTargetObject] = {}
        errors: dict[str, str] = {}
        scale_targets: dict[tuple[str, str, str, str], ScaleTarget] = {}
        pods: dict[tuple[str, str], Pod] = {}
        target_pods: dict[str, tuple[str, ...]] = {}
        pending_gpus: dict[str, float] = {}
        counted_pending: set[tuple[str, str]] = set()
        for va, _raw in owned:
            resolved = self.resolve_target(va)
            if isinstance(resolved, str):
                errors[va.key] = resolved
                continue
            targets[va.key] = resolved
            try:
                selected = index.select(resolved.namespace, resolved.selector)
            except ValueError as exc:
                errors[va.key] = str(exc)
                del targets[va.key]
                continue
            target_pods[va.key] = tuple(sorted(str(object_meta(p).get("name")) for p in selected))
            if resolved.key not in scale_targets:
                scale_targets[resolved.key] = self._scale_target(resolved, selected)
            accelerator = va.metadata.labels.get(ACCELERATOR_LABEL) or accelerator_from_node_selector(
                scale_targets[resolved.key].node_selector
            )
            for p in selected:
                pod_key = (resolved.namespace, str(object_meta(p).get("name")))
                pods.setdefault(
                    pod_key,
                    Pod(
                        namespace=pod_key[0],
                        name=pod_key[1],
                        target=resolved.name,
                        ready=pod_ready(p),
                        **pod_start_times(p),
                    ),
                )
                if accelerator and not (p.get("spec") or {}).get("nodeName") and pod_key not in counted_pending:
                    counted_pending.add(pod_key)
                    pending_gpus[accelerator] = pending_gpus.get(accelerator, 0.0) + pod_spec_gpus(p.get("spec") or {})
        annotated = read_annotated(
            self.scalers,
            [va for va, _ in owned],
            [p for p in all_pods if pod_live(p)],
            self._excluded_namespaces(),
            ReadAccumulator(targets, errors, scale_targets, pods, target_pods),
            self.resolve_target,
            self._scale_target,
            pod_ready,
        )
        gpu_free, gpu_error = self._inventory(all_pods, pending_gpus)
        used_scales = {t.scale_path for t in targets.values()}
        with self._lock:  # forget scales of targets no VA points at any more
            for path in [p for p in self._scales if p not in used_scales]:
                del self._scales[path]
        return ClusterState(
            variant_autoscalings=tuple(va for va, _ in owned),
            raw_variant_autoscalings={va.key: raw for va, raw in owned},
            targets=targets,
            target_errors=errors,
            invalid_variant_autoscalings=invalid,
            scale_targets=tuple(scale_targets[k] for k in sorted(scale_targets)),
            pods=tuple(pods[k] for k in sorted(pods)),
            config=self._effective_config(now or datetime.now(UTC)),
            gpu_available=gpu_free,
            gpu_inventory_error=gpu_error,
            target_pods=target_pods,
            annotated=annotated,
        )

    def va_object(self, namespace: str, name: str) -> JsonObj | None:
        """The cached raw VA (used by the status writer to diff without a GET)."""
        return self._vas.get(namespace, name)

    def pod_object(self, namespace: str, name: str) -> JsonObj | None:
        """The cached raw pod (e.g. its ``status.podIP`` for direct scraping) without an API request."""
        return self._pods.get(namespace, name)
