"""Thin JSON transport to the Kubernetes API built on the official ``kubernetes`` client (does I/O).

It uses ``kubernetes.config`` to load credentials (kubeconfig or in-cluster, projected tokens re-read by
the client's refresh hook) and ``kubernetes.client.rest.RESTClientObject`` for HTTP. Objects stay plain
JSON dicts (the VA is a custom resource; 1,000 typed-model conversions per cycle would cost more CPU than
the decision itself). Every call is blocking: async callers wrap them in ``asyncio.to_thread`` (see
``wva_ray.adapters.kube.reader``). Requests are counted per verb so benchmarks can report API traffic.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import rest as k8s_rest

JsonObj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class KubeApiError(RuntimeError):
    """A non-2xx answer from the API server (transient unless a subclass says otherwise)."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class KubeNotFound(KubeApiError):
    """404: the object (or the resource type) does not exist."""


class KubeConflict(KubeApiError):
    """409: stale resourceVersion or already exists; re-read and retry."""


class KubeInvalid(KubeApiError):
    """422: rejected by validation (schema, required fields)."""


class KubeForbidden(KubeApiError):
    """403: RBAC denies the verb."""


class KubeGone(KubeApiError):
    """410: the watch resourceVersion is too old; re-list."""


class KubeUnavailable(KubeApiError):
    """No answer at all (connection refused or reset, timeout: the API server is down or restarting). Reported
    as status 503 so every `except KubeApiError` treats it as the transient error it is."""


_ERRORS: dict[int, type[KubeApiError]] = {
    403: KubeForbidden,
    404: KubeNotFound,
    409: KubeConflict,
    410: KubeGone,
    422: KubeInvalid,
}


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> k8s_client.Configuration:
    """Credentials from a kubeconfig file (or $KUBECONFIG) and, failing that, from the in-cluster service account."""
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=cfg
        )
    except (k8s_config.ConfigException, FileNotFoundError, TypeError):
        if kubeconfig is not None:
            raise
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


def token_configuration(server: str, token: str, ca_file: str | None = None) -> k8s_client.Configuration:
    """A configuration for a bearer token (tests, service-account tokens); TLS unverified without a CA."""
    cfg = k8s_client.Configuration()
    cfg.host = server
    cfg.api_key = {"authorization": f"Bearer {token}"}
    if ca_file is None:
        cfg.verify_ssl = False
    else:
        cfg.ssl_ca_cert = ca_file
    return cfg


class KubeApi:
    """Blocking JSON calls against one API server; thread-safe; counts requests per verb."""

    def __init__(
        self, configuration: k8s_client.Configuration, pool_size: int = 16, record_paths: bool = False
    ) -> None:
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, pool_size)
        if not configuration.verify_ssl:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._cfg = configuration
        self._rest = k8s_rest.RESTClientObject(configuration)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._record = record_paths
        self._seen: set[tuple[str, str]] = set()

    # -- accounting -----------------------------------------------------------------------------------
    def request_counts(self) -> dict[str, int]:
        """Requests made so far, keyed ``VERB`` and ``WATCH`` (a watch stream counts once when opened)."""
        with self._lock:
            return dict(self._counts)

    def requests_seen(self) -> set[tuple[str, str]]:
        """Distinct (VERB, path) pairs requested, when built with ``record_paths`` (RBAC audits in tests)."""
        with self._lock:
            return set(self._seen)

    def _count(self, key: str, path: str) -> None:
        with self._lock:
            self._counts[key] += 1
            if self._record:
                self._seen.add((key, path))

    # -- transport ------------------------------------------------------------------------------------
    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "wva-ray"}
        auth = self._cfg.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            headers["Authorization"] = str(auth["value"])
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _url(self, path: str, query: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> str:
        url = self._cfg.host.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout_s: float = 30.0,
    ) -> JsonObj:
        """One request; returns the decoded JSON body or raises a ``KubeApiError`` subclass."""
        self._count(method, path)
        headers = self._headers(content_type or ("application/json" if body is not None else None))
        try:
            resp = self._rest.request(  # type: ignore[no-untyped-call]
                method, self._url(path, query), headers=headers, body=body, _request_timeout=timeout_s
            )
            data = resp.read()
        except urllib3.exceptions.HTTPError as exc:
            raise KubeUnavailable(503, method, path, f"API server unreachable: {exc}") from exc
        if not 200 <= resp.status < 300:
            raise _error(resp.status, method, path, data)
        if not data:
            return {}
        decoded = json.loads(data)
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    def get(self, path: str, query: Mapping[str, str] | None = None) -> JsonObj:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: JsonObj) -> JsonObj:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: JsonObj) -> JsonObj:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any, content_type: str = MERGE_PATCH) -> JsonObj:
        return self.request("PATCH", path, body=body, content_type=content_type)

    def delete(self, path: str, query: Mapping[str, str] | None = None) -> JsonObj:
        return self.request("DELETE", path, query=query)

    def watch(
        self, path: str, resource_version: str, *, timeout_s: int = 300, query: Mapping[str, str] | None = None
    ) -> Iterator[JsonObj]:
        """Yield watch events ``{"type", "object"}`` from ``resource_version`` until the server ends the stream."""
        self._count("WATCH", path)
        params = dict(query or {})
        params.update(
            watch="true",
            resourceVersion=resource_version,
            allowWatchBookmarks="true",
            timeoutSeconds=str(timeout_s),
        )
        try:
            resp = self._rest.request(  # type: ignore[no-untyped-call]
                "GET", self._url(path, params), headers=self._headers(None), _request_timeout=(10, timeout_s + 30)
            )
        except urllib3.exceptions.HTTPError as exc:
            raise KubeUnavailable(503, "WATCH", path, f"API server unreachable: {exc}") from exc
        raw = resp.response
        try:
            if not 200 <= resp.status < 300:
                raise _error(resp.status, "WATCH", path, raw.read())
            buf = b""
            for chunk in raw.stream(64 * 1024, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            raw.release_conn()


def _error(status: int, method: str, path: str, data: bytes) -> KubeApiError:
    message = data.decode("utf-8", errors="replace")[:2000]
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(data).get("message", message))
    return _ERRORS.get(status, KubeApiError)(status, method, path, message)
