"""The Prometheus source times its calls for WVA v0.9's `wva_metrics_collection_*` families: query types per call,
the failure's `reason` (upstream's categories), each timing taken once. Local HTTP servers stand in for Prometheus
(the real one: tests/adapters/test_prometheus_integration.py)."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import requests

from wva_ray.adapters.prometheus import client as ph
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef, QueryTiming, ScaleToZeroQuery

GROUPS = [ModelGroupRef("llm", "m1")]
POD_TYPES = ("kv_cache", "queue_length", "cache_config")


class _Answer(http.server.BaseHTTPRequestHandler):
    body = b""
    status = 200
    delay_s = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay_s)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def prometheus_answering() -> Iterator[Callable[..., str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(doc: dict[str, Any], status: int = 200, delay_s: float = 0.0) -> str:
        handler = type("H", (_Answer,), {"body": json.dumps(doc).encode(), "status": status, "delay_s": delay_s})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ticks:
    """A perf clock that advances 0.25 s per reading: every call lasts exactly 0.25 s."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.25
        return self.t


def _source(url: str, **settings: Any) -> PrometheusMetricsSource:
    prom = ph.PrometheusSettings(base_url=url, retries=0, **settings)
    return PrometheusMetricsSource(prom, perf_clock=Ticks())


OK = {"status": "success", "data": {"resultType": "vector", "result": []}}


@pytest.mark.parametrize(
    ("call", "types"),
    [
        pytest.param(lambda s: s.pod_metrics(GROUPS), POD_TYPES, id="pod-metrics-batch"),
        pytest.param(
            lambda s: s.request_counts([ScaleToZeroQuery(GROUPS[0], 600.0), ScaleToZeroQuery(GROUPS[0], 60.0)]),
            ("request_count",),
            id="request-counts",
        ),
        pytest.param(lambda s: s.flow_control_queues(GROUPS), ("queue_length",), id="flow-control-queue"),
    ],
)
def test_an_answered_call_is_timed_under_upstreams_query_types(
    prometheus_answering: Callable[..., str], call: Callable[[PrometheusMetricsSource], Any], types: tuple[str, ...]
) -> None:
    source = _source(prometheus_answering(OK))
    try:
        asyncio.run(call(source))
        assert source.take_query_timings() == [QueryTiming(t, 0.25, "") for t in types]
        assert source.take_query_timings() == []  # taken once
    finally:
        source.close()


@pytest.mark.parametrize(
    ("status", "doc", "reason"),
    [
        pytest.param(
            400,
            {"status": "error", "errorType": "bad_data", "error": '1:9: parse error: unexpected "("'},
            "parse_error",
            id="400-parse-error",
        ),
        pytest.param(
            400,
            {"status": "error", "errorType": "bad_data", "error": 'invalid parameter "time"'},
            "bad_data",
            id="400-bad-data",
        ),
        pytest.param(
            422,
            {"status": "error", "errorType": "execution", "error": "expanding series: too many"},
            "execution_error",
            id="422-execution",
        ),
        pytest.param(
            503,
            {"status": "error", "errorType": "unavailable", "error": "query processing would load too many samples"},
            "query_processing",
            id="503-query-processing",
        ),
        pytest.param(500, {"status": "error", "error": "boom"}, "unknown", id="500-unknown"),
    ],
)
def test_a_failed_call_carries_upstreams_reason(
    prometheus_answering: Callable[..., str], status: int, doc: dict[str, Any], reason: str
) -> None:
    source = _source(prometheus_answering(doc, status=status))
    try:
        with pytest.raises(MetricsUnavailableError):
            asyncio.run(source.pod_metrics(GROUPS))
        assert source.take_query_timings() == [QueryTiming(t, 0.25, reason) for t in POD_TYPES]
    finally:
        source.close()


def test_connection_refused_and_timeout(prometheus_answering: Callable[..., str]) -> None:
    refused = _source(f"http://127.0.0.1:{_closed_port()}")
    slow = _source(prometheus_answering(OK, delay_s=1.0), timeout_s=0.2)
    try:
        for source, reason in ((refused, "connection_refused"), (slow, "timeout")):
            with pytest.raises(MetricsUnavailableError):
                asyncio.run(source.flow_control_queues(GROUPS))
            assert source.take_query_timings() == [QueryTiming("queue_length", 0.25, reason)], reason
    finally:
        refused.close()
        slow.close()


def test_a_cancelled_call_is_timed_as_canceled_and_left_for_the_next_step(
    prometheus_answering: Callable[..., str],
) -> None:
    source = _source(prometheus_answering(OK, delay_s=1.0))

    async def cut_short() -> None:
        task = asyncio.create_task(source.pod_metrics(GROUPS))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(cut_short())
        assert source.take_query_timings() == [QueryTiming(t, 0.25, "canceled") for t in POD_TYPES]
    finally:
        source.close()


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        pytest.param(requests.ConnectTimeout("connect timed out"), "timeout", id="connect-timeout-by-type"),
        pytest.param(TimeoutError(), "timeout", id="builtin-timeout"),
        pytest.param(
            requests.ConnectionError("Failed to resolve 'prom' ([Errno -2] Name or service not known)"),
            "dns_error",
            id="dns",
        ),
        pytest.param(requests.ConnectionError("[Errno 111] Connection refused"), "connection_refused", id="refused"),
        pytest.param(ValueError("not a Prometheus query answer"), "unknown", id="unknown"),
    ],
)
def test_error_reason_of_a_wrapped_cause(exc: Exception, reason: str) -> None:
    try:
        raise MetricsUnavailableError("Prometheus http://execution-timeout:9090 query kv failed") from exc
    except MetricsUnavailableError as wrapped:
        assert ph.error_reason(wrapped) == reason  # the wrapper's own text (URL, query) does not decide


def test_a_wrapper_without_a_cause_is_read_itself() -> None:
    assert ph.error_reason(MetricsUnavailableError("query kv: connection refused")) == "connection_refused"


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A Prometheus that answers every query 503 (down behind its Service), counting them."""

    hits: ClassVar[list[float]] = []

    def do_GET(self) -> None:
        self.hits.append(time.monotonic())
        body = b'{"status":"error","errorType":"unavailable","error":"down"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.mark.parametrize(
    ("learned", "retries", "concurrency"),
    [
        pytest.param(False, 3, 2, id="saturation-8-queries"),
        pytest.param(True, 3, 2, id="learned-22-queries"),
        pytest.param(True, 1, 4, id="more-concurrency"),
    ],
)
def test_a_dead_prometheus_costs_one_querys_retries_per_batch(learned: bool, retries: int, concurrency: int) -> None:
    """Found by the 5-minute outage in the closed loop: every query of a batch was retried on its own, so a step
    against a refused Prometheus took about 15 s (22 queries x 4 attempts, 2 at a time) and missed its deadline
    every cycle. Now the batch stops at its first failed query."""
    handler = type("H", (_Refusing,), {"hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = ph.PrometheusSettings(
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            retries=retries,
            backoff_s=0.01,
            backoff_max_s=0.01,
            learned_signals=learned,
            query_concurrency=concurrency,
        )
        src = PrometheusMetricsSource(settings)
        with pytest.raises(MetricsUnavailableError) as err:
            asyncio.run(src.pod_metrics(GROUPS))
        src.close()
    finally:
        server.shutdown()
        server.server_close()
    attempts = retries + 1
    assert "503" in str(err.value) and "not sent" not in str(err.value), err.value
    # at most the queries already running when the first one gave up, each with its retries
    assert attempts <= len(handler.hits) <= concurrency * attempts, len(handler.hits)
    assert src.queries_sent <= concurrency
