"""Unit tests of the Prometheus connection logic: settings checks, token file re-read, retry policy, the answer's
`warnings` (a local HTTP server). (The
environment names are read by `wva_ray.settings`: tests/runtime/test_settings.py.)"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from wva_ray.adapters.prometheus import client as ph
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.core.ports import ConfigError, MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery

URL = "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"base_url": "prom:9090"}, "PROMETHEUS_BASE_URL", id="no-scheme"),
        pytest.param({"base_url": None}, "PROMETHEUS_BASE_URL is not set", id="no-url"),
        pytest.param(
            {"base_url": "http://p:9090", "client_cert_path": Path("/c.pem")}, "CLIENT_KEY_PATH", id="cert-without-key"
        ),
    ],
)
def test_invalid_connection_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ph.PrometheusHttp(ph.PrometheusSettings(**kwargs))


def test_token_file_reread_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    tokens = ph._TokenSource(None, path)
    assert tokens.current() == "first"
    path.write_text("second-longer\n")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert tokens.current() == "second-longer"
    path.unlink()
    assert tokens.current() == "second-longer"  # a vanished file keeps the last good token


def test_missing_token_file_is_metrics_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MetricsUnavailableError, match="token file"):
        ph._TokenSource(None, tmp_path / "absent").current()


def test_static_token_and_header(tmp_path: Path) -> None:
    http = ph.PrometheusHttp(ph.PrometheusSettings(base_url=URL, bearer_token="abc"))
    http.refresh_auth()
    assert http._session.headers["Authorization"] == "Bearer abc"


class _FakeClient:
    def __init__(self, outcomes: list[object]) -> None:
        self.outcomes = outcomes
        self.calls = 0

    def fetch(self, query: str, eval_ts_s: float) -> tuple[object, tuple[str, ...]]:
        self.calls += 1
        out = self.outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        if isinstance(out, tuple):
            return out
        return out, ()


def _http_with(outcomes: list[object], retries: int = 3) -> tuple[ph.PrometheusHttp, _FakeClient]:
    http = ph.PrometheusHttp(ph.PrometheusSettings(base_url=URL, retries=retries, backoff_s=0.0), rng=random.Random(1))
    fake = _FakeClient(outcomes)
    http._fetch = fake.fetch  # type: ignore[method-assign]
    return http, fake


def test_retries_transient_errors_then_succeeds() -> None:
    http, fake = _http_with(
        [requests.ConnectionError("refused"), ph.PrometheusApiClientException("HTTP Status Code 503 (b'')"), []]
    )
    assert http.query("up", 1.0, "kv") == []
    assert fake.calls == 3


def test_gives_up_after_bounded_retries_with_signal_name() -> None:
    http, fake = _http_with([requests.ConnectionError("refused")] * 5, retries=2)
    with pytest.raises(MetricsUnavailableError, match=r"query queue failed after 3 attempt"):
        http.query("up", 1.0, "queue")
    assert fake.calls == 3


def test_client_errors_are_not_retried() -> None:
    http, fake = _http_with([ph.PrometheusApiClientException("HTTP Status Code 400 (b'parse error')"), []])
    with pytest.raises(MetricsUnavailableError, match="400"):
        http.query("bad(", 1.0, "kv")
    assert fake.calls == 1


def test_server_name_adapter_sets_sni() -> None:
    adapter = ph._ServerNameAdapter("prom.internal")
    pool = adapter.poolmanager.connection_from_url("https://127.0.0.1:1")
    assert pool.conn_kw.get("server_hostname") == "prom.internal"
    assert pool.assert_hostname == "prom.internal"


class _Answer(http.server.BaseHTTPRequestHandler):
    body: bytes = b""
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve(doc: dict[str, Any], status: int = 200) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("H", (_Answer,), {"body": json.dumps(doc).encode(), "status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_warnings_of_a_partial_answer_are_kept_and_reach_take_warnings() -> None:
    row = {"metric": {"namespace": "llm", "model_name": "m1", "pod": "p0"}, "value": [1.0, "0.5"]}
    doc = {"status": "success", "data": {"resultType": "vector", "result": [row]}, "warnings": ["store b down"]}
    server, url = _serve(doc)
    try:
        http_ = ph.PrometheusHttp(ph.PrometheusSettings(base_url=url, retries=0))
        assert http_.query_with_warnings("up", 1.0, "kv") == ([row], ("store b down",))
        assert http_.query("up", 1.0, "kv") == [row]  # the plain call is unchanged
        source = PrometheusMetricsSource(http=http_)
        asyncio.run(source.request_counts([ScaleToZeroQuery(ModelGroupRef("llm", "m1"), 600.0)]))
        warned = source.take_warnings()
        assert len(warned) == 1 and warned[0].endswith(": store b down"), warned
        assert source.take_warnings() == []  # taken once
        source.close()
    finally:
        server.shutdown()


def test_a_non_200_answer_keeps_its_status_for_the_retry_rule() -> None:
    server, url = _serve({"status": "error", "error": "bad"}, status=400)
    try:
        http_ = ph.PrometheusHttp(ph.PrometheusSettings(base_url=url, retries=3, backoff_s=0.0))
        with pytest.raises(MetricsUnavailableError, match=r"after 1 attempt.*400"):
            http_.query("bad(", 1.0, "kv")
    finally:
        server.shutdown()
