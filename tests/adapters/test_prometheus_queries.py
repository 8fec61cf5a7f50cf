"""Unit tests of the pure PromQL builders, escaping and the per-pod join."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wva_ray.adapters.prometheus import queries as q
from wva_ray.core.ports import ModelGroupRef


def _unescape_string(literal: str) -> str:
    """What PromQL's string lexer makes of a double-quoted literal body (\\\\, \\", \\n)."""
    out: list[str] = []
    i = 0
    while i < len(literal):
        ch = literal[i]
        if ch == "\\":
            nxt = literal[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
            i += 2
            continue
        assert ch != '"', f"unescaped quote at {i} in {literal!r}"
        out.append(ch)
        i += 1
    return "".join(out)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain", "plain", id="plain"),
        pytest.param('a"b', 'a\\"b', id="quote"),
        pytest.param("a\\b", "a\\\\b", id="backslash"),
        pytest.param('x\\"} or vector(1) #', 'x\\\\\\"} or vector(1) #', id="injection"),
        pytest.param("line\nbreak", "line\\nbreak", id="newline"),
    ],
)
def test_escape_label_value(value: str, expected: str) -> None:
    assert q.escape_label_value(value) == expected
    assert _unescape_string(q.escape_label_value(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("llama-3.1-8b", "llama-3\\.1-8b", id="dots"),
        pytest.param("a|b", "a\\|b", id="alternation"),
        pytest.param(".*", "\\.\\*", id="wildcard"),
        pytest.param("(x)[y]{z}^$+?", "\\(x\\)\\[y\\]\\{z\\}\\^\\$\\+\\?", id="all-meta"),
        pytest.param("back\\slash", "back\\\\slash", id="backslash"),
        pytest.param("sp ace/-_:", "sp ace/-_:", id="non-meta-untouched"),
    ],
)
def test_escape_regex(value: str, expected: str) -> None:
    assert q.escape_regex(value) == expected


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5), st.text(max_size=12))
def test_regex_matcher_matches_exactly_its_values(values: list[str], other: str) -> None:
    matcher = q.regex_matcher("model_name", values)
    body = matcher[len('model_name=~"') : -1]
    pattern = _unescape_string(body)
    # RE2 and Python agree on the escapes used here; RE2 anchors the whole value.
    compiled = re.compile(f"^(?:{pattern})$", re.DOTALL)
    for v in values:
        assert compiled.match(v)
    assert bool(compiled.match(other)) == (other in values)


def test_regex_matcher_sorted_and_deduplicated() -> None:
    assert q.regex_matcher("namespace", ["b", "a", "b"]) == 'namespace=~"a|b"'


def test_regex_matcher_rejects_empty() -> None:
    with pytest.raises(ValueError, match="namespace"):
        q.regex_matcher("namespace", [])


def _groups(n: int) -> list[ModelGroupRef]:
    return [ModelGroupRef(f"ns{i % 3}", f"model-{i}") for i in range(n)]


@pytest.mark.parametrize("n_models", [1, 10, 1000])
def test_query_count_does_not_grow_with_models(n_models: int) -> None:
    queries = q.pod_queries(q.GroupSelector.of(_groups(n_models)))
    assert sorted(queries) == sorted(
        [q.KV, q.QUEUE, q.FRESHNESS, q.CACHE_CONFIG, q.AVG_INPUT, q.AVG_OUTPUT, q.RUNNING, q.ARRIVAL]
    )
    assert len(q.pod_queries(q.GroupSelector.of(_groups(n_models)), with_slo_signals=False)) == 6


def test_queries_use_vllm_names_and_group_by_pod() -> None:
    queries = q.pod_queries(q.GroupSelector.of([ModelGroupRef("llm", "m1")]))
    assert queries[q.KV] == (
        "max by (namespace, model_name, pod, pod_name) "
        '(max_over_time(vllm:kv_cache_usage_perc{namespace=~"llm",model_name=~"m1"}[1m]))'
    )
    assert "vllm:num_requests_waiting" in queries[q.QUEUE] and "[1m]" in queries[q.QUEUE]
    assert "model_name" not in queries[q.CACHE_CONFIG].split("(", 2)[2]  # no model_name matcher on cache_config
    assert "vllm:request_prompt_tokens_sum" in queries[q.AVG_INPUT] and "[5m]" in queries[q.AVG_INPUT]
    assert "vllm:request_generation_tokens_count" in queries[q.AVG_OUTPUT]
    assert "gpu_cache_usage_perc" not in " ".join(queries.values())


def test_hostile_model_name_stays_inside_its_matcher() -> None:
    hostile = 'm"} or vector(1) or {__name__=~".+'
    queries = q.pod_queries(q.GroupSelector.of([ModelGroupRef("ns", hostile), ModelGroupRef("ns", "a\\")]))
    matcher = re.search(r'model_name=~"((?:[^"\\]|\\.)*)"', queries[q.KV])
    assert matcher is not None
    alternatives = _unescape_string(matcher.group(1))
    assert alternatives == "a\\\\|" + q.escape_regex(hostile)
    # Outside the matchers the query is exactly the template.
    rest = queries[q.KV].replace(matcher.group(0), "M")
    template = "max by (namespace, model_name, pod, pod_name) (max_over_time(vllm:kv_cache_usage_perc{%s}[1m]))"
    assert rest == template % 'namespace=~"ns",M'


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(600, "10m", id="minutes"),
        pytest.param(3600, "1h", id="hour"),
        pytest.param(86400 * 2, "2d", id="days"),
        pytest.param(90, "90s", id="not-whole-minutes"),
        pytest.param(0.2, "1s", id="minimum"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert q.format_duration(seconds) == expected


def _sample(value: object, ts: float = 1000.0, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [ts, str(value)]}


def test_parse_vector_drops_nan_inf_and_malformed() -> None:
    result = [
        _sample(1.5, pod="a"),
        _sample("NaN", pod="b"),
        _sample("+Inf", pod="c"),
        _sample("-Inf", pod="d"),
        {"metric": {"pod": "e"}},
        {"metric": {"pod": "f"}, "value": [1, "not-a-number"]},
    ]
    samples = q.parse_vector(result)
    assert [(s.labels["pod"], s.value) for s in samples] == [("a", 1.5)]


def _s(value: float, ts: float = 1000.0, **labels: str) -> q.Sample:
    return q.Sample(labels, value, ts)


def test_join_rows_per_pod_filters_unowned_pairs_and_joins_cache_config_on_pod() -> None:
    groups = [ModelGroupRef("ns1", "m1"), ModelGroupRef("ns2", "m2")]
    results = {
        q.KV: [
            _s(0.5, namespace="ns1", model_name="m1", pod="a"),
            _s(0.7, namespace="ns2", model_name="m2", pod_name="b"),
            _s(0.9, namespace="ns1", model_name="m2", pod="x"),  # cross product, not owned
        ],
        q.QUEUE: [_s(3, namespace="ns1", model_name="m1", pod="a"), _s(1, namespace="ns2", model_name="m2", pod="c")],
        q.FRESHNESS: [
            _s(995.0, namespace="ns1", model_name="m1", pod="a"),
            _s(900.0, namespace="ns2", model_name="m2", pod="b"),
        ],
        q.CACHE_CONFIG: [
            _s(1, namespace="ns1", pod="a", num_gpu_blocks="1000", block_size="16"),
            _s(1, namespace="ns2", pod="b", num_gpu_blocks="bad", block_size="16"),
        ],
        q.AVG_INPUT: [_s(512, namespace="ns1", model_name="m1", pod="a")],
        q.AVG_OUTPUT: [_s(128, namespace="ns1", model_name="m1", pod="a")],
    }
    rows = q.join_pod_rows(results, groups, eval_ts_s=1000.0, stale_after_s=60.0)
    by_pod = {r.pod: r for r in rows}
    assert sorted(by_pod) == ["a", "b", "c"]
    a = by_pod["a"]
    assert (a.kv_cache_usage, a.queue_length, a.num_gpu_blocks, a.block_size) == (0.5, 3, 1000, 16)
    assert (a.avg_input_tokens, a.avg_output_tokens, a.stale) == (512, 128, False)
    assert by_pod["b"].queue_length == 0.0 and by_pod["b"].num_gpu_blocks is None
    assert by_pod["b"].stale is True  # newest sample 100 s old
    assert by_pod["c"].kv_cache_usage == 0.0 and by_pod["c"].stale is True  # no freshness sample


def test_join_takes_max_over_duplicate_series() -> None:
    groups = [ModelGroupRef("ns", "m")]
    results = {
        q.KV: [_s(0.2, namespace="ns", model_name="m", pod="a"), _s(0.6, namespace="ns", model_name="m", pod="a")]
    }
    (row,) = q.join_pod_rows(results, groups, 1000.0, 60.0)
    assert row.kv_cache_usage == 0.6


def test_request_count_rows_sum_and_filter() -> None:
    groups = [ModelGroupRef("ns", "m")]
    samples = [
        _s(3, namespace="ns", model_name="m"),
        _s(2, namespace="ns", model_name="m"),
        _s(9, namespace="other", model_name="m"),
    ]
    rows = q.request_count_rows(samples, groups)
    assert [(r.namespace, r.model_name, r.count) for r in rows] == [("ns", "m", 5)]


def test_flow_control_rows() -> None:
    groups = [ModelGroupRef("ns", "m"), ModelGroupRef("ns", "n")]
    samples = [
        _s(4, namespace="ns", target_model_name="m"),
        _s(1, namespace="ns", target_model_name="", model_name="m"),
        _s(7, target_model_name="n"),
        _s(5, namespace="elsewhere", target_model_name="m"),
        _s(6, namespace="ns", target_model_name="unowned"),
    ]
    rows = q.flow_control_rows(samples, groups)
    assert [(r.namespace, r.model_name, r.size) for r in rows] == [(None, "n", 7), ("ns", "m", 5)]


def test_request_count_and_flow_queries_escape() -> None:
    sel = q.GroupSelector.of([ModelGroupRef("ns", 'a"b')])
    assert 'model_name=~"a\\"b"' in q.request_count_query(sel, 600)
    assert "[10m]" in q.request_count_query(sel, 600)
    assert 'target_model_name=~"a\\"b"' in q.flow_control_query(['a"b'])
