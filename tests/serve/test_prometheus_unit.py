"""Unit tests of mode `prometheus`: PromQL text, label escaping, response parsing (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from wva_ray.serve.prometheus import escape_label_value, parse_vector_by_replica, replica_signal_query
from wva_ray.serve.settings import PrometheusSettings


def test_query_joins_worker_to_replica_scoped_to_the_deployment() -> None:
    q = replica_signal_query("ray_vllm_kv_cache_usage_perc", PrometheusSettings(window_s=30), "llm", "LLMServer")
    assert q.startswith("max by (replica) (max_over_time(ray_vllm_kv_cache_usage_perc[30s])")
    assert "* on (WorkerId) group_left (replica)" in q
    assert 'ray_serve_deployment_request_counter_total{application="llm", deployment="LLMServer"} * 0 + 1' in q


def test_label_values_are_escaped() -> None:
    assert escape_label_value('a"b\\c') == 'a\\"b\\\\c'
    q = replica_signal_query("m", PrometheusSettings(), 'x"}) or vector(1', "d")
    assert 'application="x\\"}) or vector(1"' in q


def _vector(*rows: tuple[dict[str, str], str]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [1.0, value]} for labels, value in rows]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_parse_drops_nan_inf_and_unlabelled_rows() -> None:
    payload = _vector(
        ({"replica": "r1"}, "0.5"),
        ({"replica": "r2"}, "NaN"),
        ({"replica": "r3"}, "+Inf"),
        ({"pod": "x"}, "0.9"),
    )
    assert parse_vector_by_replica(payload) == {"r1": 0.5}


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        pytest.param({"status": "error", "error": "bad query"}, "bad query", id="error-status"),
        pytest.param({"status": "success", "data": {"resultType": "matrix", "result": []}}, "resultType", id="matrix"),
    ],
)
def test_parse_rejects_unexpected_payloads(payload: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_vector_by_replica(payload)


def test_tick_never_waits_for_a_hanging_prometheus() -> None:
    """A Prometheus that accepts connections and never answers: the fetch thread hangs, the tick does not."""
    import socket
    import time

    from tests.serve.contexts import make_ctx
    from wva_ray.serve.policy import WvaSaturationPolicy
    from wva_ray.serve.state import Reason

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        policy = WvaSaturationPolicy(mode="prometheus", prometheus={"url": url, "timeout_s": 5.0})
        worst_s = 0.0
        for _ in range(20):
            t0 = time.perf_counter()
            decision = policy.decide(make_ctx({}, running=["a", "b"]))
            worst_s = max(worst_s, time.perf_counter() - t0)
            assert (decision.desired, decision.reason) == (2, Reason.METRICS_MISSING)
        assert worst_s < 0.05, f"a tick took {worst_s * 1000:.1f} ms while the fetch hung"
