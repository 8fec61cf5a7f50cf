"""A small RESTMapper: (apiVersion, kind) -> resource path with a scale subresource (does I/O, cached).

Upstream WVA resolves only Deployments; we resolve any kind whose API advertises ``<plural>/scale``
(Deployments, StatefulSets, ReplicaSets, LeaderWorkerSets, custom resources with a scale subresource).
Discovery documents are cached; an unknown kind triggers at most one re-discovery per
``rediscover_after_s`` so newly installed CRDs are found without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wva_ray.adapters.kube.client import KubeApi, KubeApiError, KubeNotFound


@dataclass(frozen=True)
class ResourceType:
    """One resolved API resource."""

    group_version: str  # "v1" for the core group, else "group/version"
    kind: str
    plural: str
    namespaced: bool
    has_scale: bool

    @property
    def base(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    def collection_path(self, namespace: str | None = None) -> str:
        if namespace and self.namespaced:
            return f"{self.base}/namespaces/{namespace}/{self.plural}"
        return f"{self.base}/{self.plural}"

    def object_path(self, namespace: str, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def scale_path(self, namespace: str, name: str) -> str:
        return f"{self.object_path(namespace, name)}/scale"


class UnknownKind(LookupError):
    """No served resource has this kind (with a scale subresource) in this apiVersion."""


# Where a scaleTargetRef without apiVersion is looked for first (most common kinds).
PREFERRED_GROUP_VERSIONS = ("apps/v1",)


class RestMapper:
    """Resolves kinds through the API server's discovery documents; thread-safe."""

    def __init__(
        self,
        api: KubeApi,
        rediscover_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self._clock = clock
        self._rediscover_after_s = rediscover_after_s
        self._lock = threading.Lock()
        self._by_gv: dict[str, list[ResourceType]] = {}
        self._preferred: list[str] | None = None
        self._last_discovery = float("-inf")

    def _resources(self, group_version: str) -> list[ResourceType]:
        with self._lock:
            cached = self._by_gv.get(group_version)
        if cached is not None:
            return cached
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        try:
            doc = self.api.get(path)
        except KubeNotFound:
            doc = {"resources": []}
        names = {r["name"] for r in doc.get("resources", [])}
        found = [
            ResourceType(
                group_version=group_version,
                kind=r["kind"],
                plural=r["name"],
                namespaced=bool(r.get("namespaced")),
                has_scale=f"{r['name']}/scale" in names,
            )
            for r in doc.get("resources", [])
            if "/" not in r["name"]
        ]
        with self._lock:
            self._by_gv[group_version] = found
        return found

    def _preferred_versions(self) -> list[str]:
        with self._lock:
            if self._preferred is not None:
                return self._preferred
        doc = self.api.get("/apis")
        versions = [g["preferredVersion"]["groupVersion"] for g in doc.get("groups", [])]
        ordered = [*PREFERRED_GROUP_VERSIONS, "v1", *(v for v in versions if v not in PREFERRED_GROUP_VERSIONS)]
        with self._lock:
            self._preferred = ordered
        return ordered

    def _forget(self) -> bool:
        """Drop cached discovery if it is old enough; True when something was dropped."""
        now = self._clock()
        with self._lock:
            if now - self._last_discovery < self._rediscover_after_s:
                return False
            self._last_discovery = now
            self._by_gv.clear()
            self._preferred = None
            return True

    def resolve(self, api_version: str | None, kind: str) -> ResourceType:
        """The resource for ``kind`` (in ``api_version`` if given) that has a scale subresource."""
        for attempt in range(2):
            versions = [api_version] if api_version else self._preferred_versions()
            for gv in versions:
                try:
                    resources = self._resources(gv)
                except KubeApiError:
                    continue
                for r in resources:
                    if r.kind == kind and r.has_scale:
                        return r
            if attempt == 0 and not self._forget():
                break
        where = f"apiVersion {api_version!r}" if api_version else "any served API group"
        raise UnknownKind(f"scaleTargetRef.kind {kind!r}: no resource with a scale subresource in {where}")
