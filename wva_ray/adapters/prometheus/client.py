"""The one HTTP client of Prometheus (the controller's metrics source and the Serve policy's mode `prometheus`):
TLS, bearer token (re-read from its file when the file changes), timeout, bounded retries with jitter. Does
blocking network I/O: call `query` from a worker thread (`collector.PrometheusMetricsSource` uses its own thread
pool, the Serve policy a `Poller` thread), never on the event loop. Settings are typed arguments; the environment
names (`PROMETHEUS_BASE_URL`, ...) are read by `wva_ray.settings` (section `prometheus`), never here.

HTTP layer: a `requests.Session` we build (CA bundle, client certificate, an adapter that sets the TLS server
name), shared with prometheus-api-client's `PrometheusConnect`. The instant query itself is ours (`_fetch`, the
same GET `/api/v1/query` as `PrometheusConnect.custom_query`) because `custom_query` drops the answer's
`warnings` (a federated or sharded Prometheus, or Thanos, says there that the answer is partial); they are
returned by `query_with_warnings`. The library's urllib3 retry is replaced by ours (one retry layer: bounded
attempts, exponential backoff with jitter, 4xx answers not retried).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from pydantic import BaseModel, ConfigDict, Field, model_validator
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from wva_ray.core.ports import ConfigError, MetricsUnavailableError

_STATUS = re.compile(r"HTTP Status Code (\d{3})")
# WVA v0.9's bounded `reason` values of `wva_metrics_collection_errors_total`, matched in the text of the failure's
# causes in this order (Python's resolver messages stand for Go's "no such host"; `timeout` also by type below)
_REASONS = (
    ("connection refused", "connection_refused"),
    ("no such host", "dns_error"),
    ("name or service not known", "dns_error"),
    ("temporary failure in name resolution", "dns_error"),
    ("nodename nor servname", "dns_error"),
    ("timeout", "timeout"),
    ("timed out", "timeout"),
    ("parse error", "parse_error"),
    ("bad_data", "bad_data"),
    ("execution", "execution_error"),
    ("query processing", "query_processing"),
)


class PrometheusSettings(BaseModel):
    """Connection settings (upstream WVA's `PROMETHEUS_*` settings plus ours); `base_url` None = not configured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    bearer_token: str | None = None
    token_path: Path | None = None
    tls_insecure_skip_verify: bool = False
    ca_cert_path: Path | None = None
    client_cert_path: Path | None = None
    client_key_path: Path | None = None
    server_name: str | None = None
    # v0.9's PROMETHEUS_ALLOW_HTTP: unset = wva-ray's default (http:// allowed); true = plain http, which then may
    # not carry a token or TLS settings (as upstream); false = https:// only (upstream's default)
    allow_http: bool | None = None
    # ours
    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.2, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)
    jitter_ratio: float = Field(default=0.1, ge=0, le=1)
    stale_after_s: float = Field(default=60.0, gt=0)
    slo_signals: bool = True
    # analyzer learned: 14 more queries per cycle (the pods' 1 m windows of vLLM's histograms and counters);
    # env PROMETHEUS_LEARNED_SIGNALS, set by the Helm chart when it selects analyzer learned
    learned_signals: bool = False
    # Concurrent queries per cycle. 2 measured fastest against a 2-core Prometheus (benchmarks/metrics_collection.py:
    # 1,000 x 3 pods, 0.76 s vs 1.29 s with 8); raise it for a Prometheus with more cores.
    query_concurrency: int = Field(default=2, ge=1, le=32)

    @model_validator(mode="after")
    def _allow_http(self) -> PrometheusSettings:
        url = (self.base_url or "").strip().lower()
        if self.allow_http is False and url.startswith("http://"):
            raise ValueError(
                f"PROMETHEUS_ALLOW_HTTP=false refuses PROMETHEUS_BASE_URL={self.base_url!r}: use https:// "
                "or set PROMETHEUS_ALLOW_HTTP=true"
            )
        if self.allow_http and url.startswith("http://"):
            secured = {
                "PROMETHEUS_BEARER_TOKEN": self.bearer_token,
                "PROMETHEUS_TOKEN_PATH": self.token_path,
                "PROMETHEUS_CA_CERT_PATH": self.ca_cert_path,
                "PROMETHEUS_CLIENT_CERT_PATH": self.client_cert_path,
                "PROMETHEUS_CLIENT_KEY_PATH": self.client_key_path,
            }
            given = [k for k, v in secured.items() if v]
            if given:
                raise ValueError(
                    f"PROMETHEUS_ALLOW_HTTP=true with PROMETHEUS_BASE_URL={self.base_url!r}: plain http cannot "
                    f"carry {', '.join(given)} (as upstream v0.9); use https:// or drop them"
                )
        return self


class _ServerNameAdapter(HTTPAdapter):
    """Sends `server_name` as TLS SNI and checks the certificate against it (not the URL's host)."""

    def __init__(self, server_name: str | None) -> None:
        self._server_name = server_name
        super().__init__(max_retries=Retry(total=0, connect=0, read=0, redirect=0, status=0))

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._server_name:
            kwargs["server_hostname"] = self._server_name
            kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)


class _TokenSource:
    """The bearer token: static, or read from a file and re-read when its mtime/size changes."""

    def __init__(self, static: str | None, path: Path | None) -> None:
        self._static = static
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._token: str | None = None
        self._lock = threading.Lock()

    def current(self) -> str | None:
        if self._path is None:
            return self._static
        with self._lock:
            try:
                st = self._path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    self._token = self._path.read_text(encoding="utf-8").strip()
                    self._stamp = stamp
            except OSError as exc:
                if self._token is None:
                    raise MetricsUnavailableError(f"cannot read Prometheus token file {self._path}: {exc}") from exc
            return self._token


class PrometheusHttp:
    """One connection to one Prometheus, shared by the queries of a cycle (thread-safe for queries)."""

    def __init__(self, settings: PrometheusSettings, rng: random.Random | None = None) -> None:
        if settings.base_url is None:
            raise ConfigError("PROMETHEUS_BASE_URL is not set: no Prometheus to query")
        url = settings.base_url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"PROMETHEUS_BASE_URL must start with http:// or https://, got {settings.base_url!r}")
        if (settings.client_cert_path is None) != (settings.client_key_path is None):
            raise ConfigError(
                "PROMETHEUS_CLIENT_CERT_PATH and PROMETHEUS_CLIENT_KEY_PATH must be set together, got "
                f"cert={settings.client_cert_path} key={settings.client_key_path}"
            )
        self.settings = settings
        self.url = url
        self._rng = rng or random.Random()
        self._tokens = _TokenSource(settings.bearer_token, settings.token_path)
        session = requests.Session()
        if settings.tls_insecure_skip_verify:
            session.verify = False
        elif settings.ca_cert_path is not None:
            session.verify = str(settings.ca_cert_path)
        if settings.client_cert_path is not None and settings.client_key_path is not None:
            session.cert = (str(settings.client_cert_path), str(settings.client_key_path))
        self._session = session
        self._client = PrometheusConnect(url=url, session=session, retry=Retry(total=0), timeout=settings.timeout_s)
        # Replace the library's retrying adapter by ours (same prefix: the later mount wins).
        session.mount(url, _ServerNameAdapter(settings.server_name))
        self._header_lock = threading.Lock()

    def refresh_auth(self) -> None:
        """Put the current bearer token on the session (call once per cycle, before the queries)."""
        token = self._tokens.current()
        with self._header_lock:
            if token:
                self._session.headers["Authorization"] = f"Bearer {token}"
            else:
                self._session.headers.pop("Authorization", None)

    def query(self, promql: str, eval_ts_s: float, signal: str) -> list[Mapping[str, Any]]:
        """One instant query at `eval_ts_s`; raises MetricsUnavailableError naming `signal` after the retries."""
        return self.query_with_warnings(promql, eval_ts_s, signal)[0]

    def _fetch(self, promql: str, eval_ts_s: float) -> tuple[object, tuple[str, ...]]:
        """One GET /api/v1/query: (data.result, warnings). Non-200 raises PrometheusApiClientException with the
        status in its text (as `custom_query` does: `_status_of` reads it)."""
        response = self._session.get(
            f"{self.url}/api/v1/query",
            params={"query": promql, "time": f"{eval_ts_s:.3f}"},
            timeout=self.settings.timeout_s,
            # explicit, as custom_query does: a request-level None would let REQUESTS_CA_BUNDLE override the CA
            verify=self._session.verify,
            cert=self._session.cert,
        )
        if response.status_code != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {response.status_code} ({response.content!r})")
        doc = response.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise ValueError(f"not a Prometheus query answer: {str(doc)[:200]}")
        warnings = doc.get("warnings") or []
        return doc["data"].get("result"), tuple(str(w) for w in warnings) if isinstance(warnings, list) else ()

    def query_with_warnings(
        self, promql: str, eval_ts_s: float, signal: str
    ) -> tuple[list[Mapping[str, Any]], tuple[str, ...]]:
        """`query`, and the `warnings` Prometheus sent with the answer (empty when none)."""
        s = self.settings
        attempt = 0
        while True:
            try:
                result, warnings = self._fetch(promql, eval_ts_s)
                if not isinstance(result, list):
                    raise MetricsUnavailableError(f"query {signal}: unexpected result type {type(result).__name__}")
                return result, warnings
            except (requests.RequestException, PrometheusApiClientException, ValueError) as exc:
                status = _status_of(exc)
                retryable = status is None or status >= 500 or status == 429
                if not retryable or attempt >= s.retries:
                    raise MetricsUnavailableError(
                        f"Prometheus {self.url} query {signal} failed after {attempt + 1} attempt(s): {exc}"
                    ) from exc
                delay = min(s.backoff_max_s, s.backoff_s * (2**attempt))
                time.sleep(delay * (1.0 + self._rng.uniform(-s.jitter_ratio, s.jitter_ratio)))
                attempt += 1

    def close(self) -> None:
        self._session.close()


def error_reason(exc: BaseException) -> str:
    """The `reason` label of a failed collection (WVA v0.9's categories, `unknown` for the rest): a cancellation
    or a timeout by type, else by the text of the causes under our own wrapper (its message names the query and
    the URL, which must not decide the category)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, asyncio.CancelledError) for e in chain):
        return "canceled"
    if any(isinstance(e, (requests.Timeout, TimeoutError)) for e in chain):
        return "timeout"
    causes = chain[1:] or chain
    text = " ".join(str(e) for e in causes).lower()
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return "unknown"


def _status_of(exc: Exception) -> int | None:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return int(exc.response.status_code)
    match = _STATUS.search(str(exc))
    return int(match.group(1)) if match else None
