"""Unit tests of mode `prometheus`: PromQL text, label escaping, response parsing (no server). The query and the
escaping are the one builder's (`adapters.prometheus.queries`); the connection is the one client's."""

from __future__ import annotations

from wva_ray.adapters.prometheus.queries import escape_label_value, parse_vector, replica_signal_query, values_by_label
from wva_ray.serve.prometheus import client_settings
from wva_ray.serve.settings import PrometheusModeSettings

JOIN = PrometheusModeSettings().join_metric


def test_query_joins_worker_to_replica_scoped_to_the_deployment() -> None:
    q = replica_signal_query("ray_vllm_kv_cache_usage_perc", 30, JOIN, "llm", "LLMServer")
    assert q.startswith("max by (replica) (max_over_time(ray_vllm_kv_cache_usage_perc[30s])")
    assert "* on (WorkerId) group_left (replica)" in q
    assert 'ray_serve_deployment_request_counter_total{application="llm", deployment="LLMServer"} * 0 + 1' in q


def test_label_values_are_escaped() -> None:
    assert escape_label_value('a"b\\c') == 'a\\"b\\\\c'
    q = replica_signal_query("m", 60, JOIN, 'x"}) or vector(1', "d")
    assert 'application="x\\"}) or vector(1"' in q


def test_parse_drops_nan_inf_and_unlabelled_rows() -> None:
    rows = [
        ({"replica": "r1"}, "0.5"),
        ({"replica": "r2"}, "NaN"),
        ({"replica": "r3"}, "+Inf"),
        ({"pod": "x"}, "0.9"),
    ]
    result = [{"metric": labels, "value": [1.0, value]} for labels, value in rows]
    assert values_by_label(parse_vector(result), "replica") == {"r1": 0.5}


def test_connection_settings_of_the_mode() -> None:
    s = client_settings(PrometheusModeSettings(url="prom:9090", timeout_s=3.0, bearer_token="t"))
    assert (s.base_url, s.timeout_s, s.bearer_token, s.retries) == ("http://prom:9090", 3.0, "t", 0)
    assert client_settings(PrometheusModeSettings(url="https://p")).base_url == "https://p"
