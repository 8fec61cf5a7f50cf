"""List-and-watch caches of Kubernetes collections (does I/O on one daemon thread per cache).

A ``WatchCache`` lists a collection once, then follows its watch stream (with bookmarks), re-listing
only when the server answers 410 Gone or the stream breaks. Readers get copies of the current objects
without any API request, so a steady-state cycle costs no requests beyond the open watch streams.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError, KubeGone, KubeNotFound

log = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 240
MAX_BACKOFF_S = 4.0  # a transient failure (connection, 5xx): retry soon
MAX_ABSENT_BACKOFF_S = 30.0  # the resource type is not served (404, e.g. no VA or KEDA CRD): retry rarely


def object_key(obj: Mapping[str, object]) -> tuple[str, str]:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise ValueError(f"object without metadata: {obj!r:.200}")
    return str(meta.get("namespace") or ""), str(meta.get("name"))


class WatchCache:
    """The live content of one collection path (e.g. ``/api/v1/pods``), kept by list + watch."""

    def __init__(
        self,
        api: KubeApi,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> None:
        self.api = api
        self.path = path
        self._query: dict[str, str] = {}
        if label_selector:
            self._query["labelSelector"] = label_selector
        if field_selector:
            self._query["fieldSelector"] = field_selector
        self._objects: dict[tuple[str, str], JsonObj] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._version = 0
        self.last_error: str | None = None

    def start(self) -> WatchCache:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"watch {self.path}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def wait_synced(self, timeout_s: float = 30.0) -> bool:
        return self._synced.wait(timeout_s)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    @property
    def version(self) -> int:
        """Increments on every change seen; lets callers skip work when nothing changed."""
        with self._lock:
            return self._version

    def items(self) -> list[JsonObj]:
        with self._lock:
            return list(self._objects.values())

    def get(self, namespace: str, name: str) -> JsonObj | None:
        with self._lock:
            return self._objects.get((namespace, name))

    # -- the watch loop ---------------------------------------------------------------------------------
    def _relist(self) -> str:
        doc = self.api.get(self.path, self._query)
        objects = {object_key(o): o for o in doc.get("items", [])}
        with self._lock:
            self._objects = objects
            self._version += 1
        self._synced.set()
        return str(doc.get("metadata", {}).get("resourceVersion", ""))

    def _apply(self, event: JsonObj) -> str | None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code", 0))
            raise (KubeGone if code == 410 else KubeApiError)(code, "WATCH", self.path, str(obj.get("message")))
        rv = obj.get("metadata", {}).get("resourceVersion")
        if kind == "BOOKMARK":
            return str(rv) if rv else None
        key = object_key(obj)
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(key, None)
            else:
                self._objects[key] = obj
            self._version += 1
        return str(rv) if rv else None

    def _run(self) -> None:
        """List, then watch; on failure retry with exponential backoff, capped at MAX_BACKOFF_S, or at
        MAX_ABSENT_BACKOFF_S while the resource type is not served. Logged once per state change: the first
        failure and every change of the error as a warning, repeats at debug, the recovery at info."""
        backoff_s = 0.1
        rv: str | None = None
        failing: str | None = None  # the error of the current failure state
        while not self._stop.is_set():
            try:
                if rv is None:
                    rv = self._relist()
                    if failing is not None:
                        log.info("watch %s recovered after: %s", self.path, failing)
                        failing = None
                for event in self.api.watch(self.path, rv, timeout_s=WATCH_TIMEOUT_S, query=self._query):
                    if self._stop.is_set():
                        return
                    rv = self._apply(event) or rv
                backoff_s = 0.1
                self.last_error = None
            except KubeGone:
                rv = None
            except Exception as exc:
                self.last_error = str(exc)
                absent = isinstance(exc, KubeNotFound)
                if str(exc) != failing:
                    hint = " (resource type not served; retrying with backoff)" if absent else ""
                    log.warning("watch %s failed: %s%s", self.path, exc, hint)
                    failing = str(exc)
                else:
                    log.debug("watch %s still failing: %s (retry in %.1fs)", self.path, exc, backoff_s)
                rv = None
                if self._stop.wait(backoff_s):
                    return
                backoff_s = min(backoff_s * 2, MAX_ABSENT_BACKOFF_S if absent else MAX_BACKOFF_S)
            time.sleep(0)
