"""Watched HorizontalPodAutoscalers and KEDA ScaledObjects for annotation discovery, and pod attribution (does I/O).

``ScalerWatches`` keeps list-and-watch caches (``WatchCache``) of HPAs, in the newest version the API server serves
(``autoscaling/v2``, else ``autoscaling/v2beta2``), and of ScaledObjects once the KEDA CRD is served: without it
discovery works on HPAs alone, and a CRD installed later is found by a discovery probe at most every
``rediscover_after_s`` (a CRD removed later is dropped the same way). With ``CONTROLLER_INSTANCE`` only scalers
labelled ``wva.llmd.ai/controller-instance=<id>`` are watched. A steady cycle makes no request.

``attribute_pods`` maps live pods to the selected scalers' targets with upstream's rules: the pod label
``llm-d.ai/variant`` naming a managed scaler, else its owner references; a Ready vLLM pod that maps to none is an
attribution miss (pure, over JSON dicts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from wva_ray.adapters.kube.cache import WatchCache
from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError, KubeNotFound
from wva_ray.adapters.kube.templates import looks_like_vllm, owner_workload
from wva_ray.api.errors import describe
from wva_ray.api.scaler import (
    HPA_GROUP_VERSIONS,
    KEDA_GROUP,
    KEDA_VERSION,
    SCALED_OBJECT_PLURAL,
    VARIANT_LABEL,
    ScalerObject,
)
from wva_ray.api.va import CONTROLLER_INSTANCE_LABEL
from wva_ray.core.annotated import ScalerRef, Skipped

log = logging.getLogger(__name__)

KEDA_PATH = f"/apis/{KEDA_GROUP}/{KEDA_VERSION}"
MISS_VARIANT_LABEL = "variant_label_unmatched"
MISS_NO_OWNER = "no_managed_owner"


def _collection(group_version: str, plural: str, namespace: str | None) -> str:
    base = f"/apis/{group_version}"
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


def served_hpa_version(api: KubeApi) -> str | None:
    """The newest HPA version with annotations discovery reads (v2, else v2beta2) that the server serves."""
    try:
        doc = api.get("/apis/autoscaling")
    except KubeNotFound:
        return None
    served = {str(v.get("groupVersion")) for v in doc.get("versions") or []}
    return next((gv for gv in HPA_GROUP_VERSIONS if gv in served), None)


def keda_served(api: KubeApi) -> bool:
    """True when ``keda.sh/v1alpha1`` serves ``scaledobjects`` (the KEDA CRD is installed)."""
    try:
        doc = api.get(KEDA_PATH)
    except KubeNotFound:
        return False
    return any(r.get("name") == SCALED_OBJECT_PLURAL for r in doc.get("resources") or [])


class ScalerWatches:
    """HPAs and (when KEDA is installed) ScaledObjects, watched; ``objects()`` reads them without a request."""

    def __init__(
        self,
        api: KubeApi,
        *,
        watch_namespace: str | None = None,
        controller_instance: str | None = None,
        rediscover_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.namespace = watch_namespace
        self.selector = f"{CONTROLLER_INSTANCE_LABEL}={controller_instance}" if controller_instance else None
        self.rediscover_after_s = rediscover_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self.hpa_version: str | None = None
        self._hpas: WatchCache | None = None
        self._scaled_objects: WatchCache | None = None
        self._last_probe = float("-inf")

    def _cache(self, group_version: str, plural: str) -> WatchCache:
        return WatchCache(
            self.api, _collection(group_version, plural, self.namespace), label_selector=self.selector
        ).start()

    def start(self, timeout_s: float = 30.0) -> ScalerWatches:
        self.hpa_version = served_hpa_version(self.api)
        if self.hpa_version is not None:
            self._hpas = self._cache(self.hpa_version, "horizontalpodautoscalers")
        self._probe_keda()
        for cache in self._caches():
            if not cache.wait_synced(timeout_s):
                log.warning("watch %s not synced in %.0fs: %s", cache.path, timeout_s, cache.last_error)
        return self

    def stop(self) -> None:
        for cache in self._caches():
            cache.stop()

    def _caches(self) -> list[WatchCache]:
        with self._lock:
            return [c for c in (self._hpas, self._scaled_objects) if c is not None]

    @property
    def keda_available(self) -> bool:
        with self._lock:
            return self._scaled_objects is not None

    def _probe_keda(self) -> None:
        """Start (or drop) the ScaledObject watch as the KEDA CRD appears (or goes); at most once per interval."""
        now = self._clock()
        with self._lock:
            if now - self._last_probe < self.rediscover_after_s:
                return
            self._last_probe = now
            present = self._scaled_objects
        try:
            served = keda_served(self.api)
        except KubeApiError as exc:
            log.warning("KEDA discovery failed: %s", exc)
            return
        if served and present is None:
            cache = self._cache(f"{KEDA_GROUP}/{KEDA_VERSION}", SCALED_OBJECT_PLURAL)
            with self._lock:
                self._scaled_objects = cache
            log.info("KEDA ScaledObjects are served: watching %s", cache.path)
            cache.wait_synced(10.0)
        elif not served and present is not None:
            present.stop()
            with self._lock:
                self._scaled_objects = None
            log.info("KEDA ScaledObjects are no longer served: ScaledObjects ignored")

    def objects(self, excluded_namespaces: Iterable[str] = ()) -> tuple[list[ScalerObject], dict[str, str]]:
        """Every watched scaler (not deleting, not in an excluded namespace) and the structurally invalid ones."""
        so = self._scaled_objects
        if so is None or (so.last_error and "404" in so.last_error):
            with self._lock:
                if so is not None:
                    self._last_probe = float("-inf")  # the CRD may be gone: probe now
            self._probe_keda()
        excluded = set(excluded_namespaces)
        out: list[ScalerObject] = []
        invalid: dict[str, str] = {}
        for cache in self._caches():
            for raw in cache.items():
                meta = raw.get("metadata") or {}
                if meta.get("deletionTimestamp") or meta.get("namespace") in excluded:
                    continue
                try:
                    out.append(ScalerObject.model_validate(_strip(raw)))
                except ValidationError as exc:
                    key = f"{raw.get('kind', 'scaler')} {meta.get('namespace')}/{meta.get('name')}"
                    invalid[key] = describe(exc)
        out.sort(key=lambda s: (s.metadata.namespace, s.metadata.name, s.kind))
        return out, invalid


@dataclass(frozen=True)
class AnnotatedState:
    """What one read found: managed scalers (snapshot input), skipped ones, invalid objects, attribution misses."""

    scalers: tuple[ScalerObject, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    invalid: Mapping[str, str] = field(default_factory=dict)  # "<Kind> ns/name" -> structural error
    misses: tuple[tuple[str, str, str], ...] = ()  # (namespace, pod, reason)
    variant_keys: frozenset[str] = frozenset()  # keys of the in-memory VAs (no VA object: no status writes)


def _strip(obj: JsonObj) -> JsonObj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {k: v for k, v in {**obj, "metadata": meta}.items() if k != "status"}


@dataclass(frozen=True)
class Attribution:
    """Pods of each selected scaler's target (key ``namespace/kind/name``) and the misses with their reasons."""

    by_target: Mapping[tuple[str, str, str], list[JsonObj]] = field(default_factory=dict)
    misses: Sequence[tuple[JsonObj, str]] = ()


def _ready(pod: Mapping[str, object]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:  # type: ignore[attr-defined]
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def attribute_pods(pods: Iterable[JsonObj], refs: Sequence[ScalerRef], claimed: set[tuple[str, str]]) -> Attribution:
    """Live pods in the namespaces of ``refs`` (not already ``claimed`` by a VA's target) mapped to a target."""
    by_name = {(r.scaler.metadata.namespace, r.scaler.metadata.name): r for r in refs}
    by_target = {r.target_key: r for r in refs}
    namespaces = {r.scaler.metadata.namespace for r in refs}
    found: dict[tuple[str, str, str], list[JsonObj]] = {}
    misses: list[tuple[JsonObj, str]] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if ns not in namespaces or (ns, name) in claimed:
            continue
        label = (meta.get("labels") or {}).get(VARIANT_LABEL)
        ref: ScalerRef | None = None
        reason = MISS_NO_OWNER
        if label:
            ref = by_name.get((ns, str(label)))
            reason = MISS_VARIANT_LABEL
        else:
            owner = owner_workload(pod)
            if owner is not None:
                ref = by_target.get((ns, owner[0], owner[1]))
        if ref is not None:
            found.setdefault(ref.target_key, []).append(pod)
        elif _ready(pod) and (label or looks_like_vllm(pod)):
            misses.append((pod, reason))
    return Attribution(found, misses)
