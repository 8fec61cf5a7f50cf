"""WVA v0.9 metrics exported by wva-ray (upstream-v0.9.md section 5): names, types, label sets, values, removal."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.core.builders import V, snapshot_dict
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.decide import decide
from wva_ray.core.ports import QueryTiming


def test_pod_mapping_miss_counter_has_upstreams_name_and_labels() -> None:
    g = GaugeExporter(controller_instance="blue")
    g.count_pod_mapping_misses(
        [("llm", "no_managed_owner"), ("llm", "no_managed_owner"), ("b", "variant_label_unmatched")]
    )
    text = g.render().decode()
    assert (
        'wva_pod_mapping_miss_total{controller_instance="blue",namespace="llm",reason="no_managed_owner"} 2.0' in text
    )
    assert (
        'wva_pod_mapping_miss_total{controller_instance="blue",namespace="b",reason="variant_label_unmatched"} 1.0'
        in text
    )


# ---- the 23 v0.9 families (upstream-v0.9.md section 5), written from the spec: name -> (type, labels) ----
# every family gains controller_instance when one is set
SPEC: dict[str, tuple[str, tuple[str, ...]]] = {
    "wva_optimization_duration_seconds": ("histogram", ("status",)),
    "wva_models_processed": ("gauge", ()),
    "wva_errors": ("counter", ("component", "error_type")),
    "wva_optimizer_active": ("gauge", ("optimizer_name",)),
    "wva_config_info": ("gauge", ("analyzer_name", "limiter_enabled", "scale_to_zero_enabled")),
    "wva_config_kv_spare_threshold": ("gauge", ()),
    "wva_config_queue_spare_threshold": ("gauge", ()),
    "wva_config_optimization_interval_seconds": ("gauge", ()),
    "wva_decisions_limited": ("counter", ("variant_name", "namespace", "limiter_name")),
    "wva_enforcer_modifications": ("counter", ("policy_type",)),
    "wva_gpu_discovery_up": ("gauge", ()),
    "wva_available_gpus": ("gauge", ("accelerator_vendor", "accelerator_model", "accelerator_type")),
    "wva_metrics_collection_duration_seconds": ("histogram", ("query_type",)),
    "wva_metrics_collection_errors": ("counter", ("query_type", "reason")),
    "wva_metrics_pods_discovered": ("gauge", ("namespace",)),
    "wva_metrics_freshness_status": ("gauge", ("variant_name", "status")),
    "wva_pod_mapping_miss": ("counter", ("namespace", "reason")),
    "wva_saturation_utilization": ("gauge", ("variant_name", "namespace", "model_name", "accelerator_type")),
    "wva_spare_capacity": ("gauge", ("variant_name", "namespace", "model_name", "unit")),
    "wva_required_capacity": ("gauge", ("variant_name", "namespace", "model_name", "unit")),
    "wva_kv_cache_tokens_used": ("gauge", ("variant_name", "namespace", "model_name")),
    "wva_kv_cache_tokens_capacity": ("gauge", ("variant_name", "namespace", "model_name")),
    "wva_saturation_metrics_up": ("gauge", ("variant_name", "namespace")),
}
# upstream's buckets of wva_metrics_collection_duration_seconds (its metrics.go), and its query_type / reason values
COLLECTION_BUCKETS = ("0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf")
QUERY_TYPES = ("kv_cache", "queue_length", "cache_config", "request_count")
REASONS = ("", "timeout", "canceled", "connection_refused", "dns_error", "parse_error", "bad_data", "unknown")


def _plan(*variants: V, **extra: Any) -> list[Decision]:
    return decide(Snapshot.model_validate(snapshot_dict(*variants, **extra))).decisions


def _scenario() -> list[Decision]:
    # m1: saturated and limited by an empty inventory; m2: idle with scale-to-zero on and no requests
    a = V("a", [(0.95, 10.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    b = V("b", [(0.2, 0.0)], model="m2", kv_tokens=16000, avg_in=500, avg_out=200)
    config = {
        "saturation": {"default": {"analyzerName": "saturation", "enableLimiter": True}},
        "scaleToZero": {"default": {"enable_scale_to_zero": True}},
    }
    return _plan(
        a,
        b,
        config=config,
        gpuAvailable={"H100": 0},
        requestCounts=[
            {"namespace": "llm", "modelName": "m2", "count": 0},
            {"namespace": "llm", "modelName": "m1", "count": 5},
        ],
    )


def _scrape(g: GaugeExporter) -> dict[str, Any]:
    port = g.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
    finally:
        g.close()
    return {f.name: f for f in text_string_to_metric_families(body)}


def test_v09_families_have_upstreams_names_types_and_labels() -> None:
    g = GaugeExporter(controller_instance="blue", interval_s=30.0)
    g.observe_cycle(0.05)
    g.count_error("TimeoutError")
    g.count_pod_mapping_misses([("llm", "no_managed_owner")])
    g.observe_query_timings([QueryTiming("kv_cache", 0.02), QueryTiming("request_count", 0.4, "timeout")])
    g.apply(_scenario())
    families = _scrape(g)
    for name, (kind, labels) in SPEC.items():
        assert name in families, name
        fam = families[name]
        assert fam.type == kind, name
        assert fam.samples, name
        for sample in fam.samples:
            got = set(sample.labels) - {"le"}
            assert got == {*labels, "controller_instance"}, (name, got)


def test_v09_values_are_what_the_controller_did() -> None:
    g = GaugeExporter()
    decisions = _scenario()
    g.apply(decisions)
    s = {(x.name, tuple(sorted(x.labels.items()))): x.value for f in _scrape(g).values() for x in f.samples}
    a = (("model_name", "m1"), ("namespace", "llm"), ("variant_name", "a"))
    assert s[("wva_kv_cache_tokens_used", a)] == pytest.approx(0.95 * 16000)
    assert s[("wva_kv_cache_tokens_capacity", a)] == 16000
    assert s[("wva_required_capacity", (*a[:2], ("unit", "continuous"), a[2]))] > 0
    assert (
        s[
            (
                "wva_decisions_limited_total",
                (("limiter_name", "gpu-inventory"), ("namespace", "llm"), ("variant_name", "a")),
            )
        ]
        == 1
    )
    assert s[("wva_enforcer_modifications_total", (("policy_type", "scale_to_zero"),))] == 1
    assert s[("wva_models_processed", ())] == 2
    assert s[("wva_gpu_discovery_up", ())] == 1
    assert s[("wva_metrics_freshness_status", (("status", "fresh"), ("variant_name", "a")))] == 1
    assert s[("wva_optimizer_active", (("optimizer_name", "limited-allocation"),))] == 1
    assert (
        s[
            (
                "wva_config_info",
                (("analyzer_name", "saturation"), ("limiter_enabled", "true"), ("scale_to_zero_enabled", "true")),
            )
        ]
        == 1
    )


def test_series_of_a_variant_that_goes_away_are_removed() -> None:
    g = GaugeExporter()
    g.apply(_scenario())
    g.apply([d for d in _scenario() if d.name != "b"])
    text = g.render().decode()
    assert 'variant_name="a"' in text
    for name in ("wva_kv_cache_tokens_used", "wva_saturation_metrics_up", "wva_metrics_freshness_status"):
        assert not any(line.startswith(name) and 'variant_name="b"' in line for line in text.splitlines()), name


@pytest.mark.parametrize(
    ("instance", "interval_s", "want"),
    [
        pytest.param(None, 15.0, 15.0, id="v09-default-15s"),
        pytest.param("blue", 30.0, 30.0, id="with-instance"),
        pytest.param(None, None, None, id="not-handed-over-not-exported"),
    ],
)
def test_optimization_interval_is_the_runtimes(
    instance: str | None, interval_s: float | None, want: float | None
) -> None:
    families = _scrape(GaugeExporter(controller_instance=instance, interval_s=interval_s))
    fam = families.get("wva_config_optimization_interval_seconds")
    assert (fam.samples[0].value if fam is not None else None) == want


def _collection(g: GaugeExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = _scrape(g)
    return {
        (x.name, tuple(sorted(x.labels.items()))): x.value
        for name in ("wva_metrics_collection_duration_seconds", "wva_metrics_collection_errors")
        for x in families[name].samples
    }


def test_collection_duration_has_upstreams_buckets() -> None:
    g = GaugeExporter()
    g.observe_query_timings([QueryTiming("kv_cache", 0.02)])
    buckets = [
        x.labels["le"]
        for x in _scrape(g)["wva_metrics_collection_duration_seconds"].samples
        if x.name.endswith("_bucket")
    ]
    assert tuple(buckets) == COLLECTION_BUCKETS


@pytest.mark.parametrize(
    ("timings", "counts", "errors", "le_0_01"),
    [
        pytest.param(
            [QueryTiming(t, 0.004) for t in ("kv_cache", "queue_length", "cache_config")],
            {"kv_cache": 1, "queue_length": 1, "cache_config": 1},
            {},
            {"kv_cache": 1, "queue_length": 1, "cache_config": 1},
            id="one-answered-batch",
        ),
        pytest.param(
            [QueryTiming(t, 3.0, "connection_refused") for t in ("kv_cache", "queue_length", "cache_config")],
            {"kv_cache": 1, "queue_length": 1, "cache_config": 1},
            {
                ("kv_cache", "connection_refused"): 1,
                ("queue_length", "connection_refused"): 1,
                ("cache_config", "connection_refused"): 1,
            },
            {"kv_cache": 0, "queue_length": 0, "cache_config": 0},
            id="failed-batch-is-timed-and-counted",
        ),
        pytest.param(
            [
                QueryTiming("queue_length", 0.02),
                QueryTiming("queue_length", 0.001, "canceled"),
                QueryTiming("request_count", 0.2, "timeout"),
                QueryTiming("request_count", 0.2, "timeout"),
            ],
            {"queue_length": 2, "request_count": 2},
            {("queue_length", "canceled"): 1, ("request_count", "timeout"): 2},
            {"queue_length": 1, "request_count": 0},
            id="two-calls-per-type",
        ),
    ],
)
def test_collection_values_are_the_timed_calls(
    timings: list[QueryTiming], counts: dict[str, int], errors: dict[tuple[str, str], int], le_0_01: dict[str, int]
) -> None:
    g = GaugeExporter(controller_instance="blue")
    g.observe_query_timings(timings)
    s = _collection(g)
    ci = ("controller_instance", "blue")
    got_counts = {
        dict(k[1])["query_type"]: v for k, v in s.items() if k[0] == "wva_metrics_collection_duration_seconds_count"
    }
    got_errors = {
        (dict(k[1])["query_type"], dict(k[1])["reason"]): v
        for k, v in s.items()
        if k[0] == "wva_metrics_collection_errors_total"
    }
    assert got_counts == counts
    assert got_errors == errors
    for query_type, n in le_0_01.items():
        key = (ci, ("le", "0.01"), ("query_type", query_type))
        assert s[("wva_metrics_collection_duration_seconds_bucket", key)] == n, query_type


@given(
    st.lists(
        st.builds(
            QueryTiming,
            st.sampled_from(QUERY_TYPES),
            st.floats(min_value=0, max_value=5, allow_nan=False),
            st.sampled_from(REASONS),
        ),
        max_size=30,
    )
)
def test_every_timed_call_is_one_observation_and_every_failure_one_error(timings: list[QueryTiming]) -> None:
    g = GaugeExporter()
    g.observe_query_timings(timings)
    s = {
        (x.name, tuple(sorted(x.labels.items()))): x.value
        for f in text_string_to_metric_families(g.render().decode())
        for x in f.samples
    }
    name = "wva_metrics_collection_duration_seconds"
    for query_type in QUERY_TYPES:
        mine = [t for t in timings if t.query_type == query_type]
        labels = (("query_type", query_type),)
        assert s.get((f"{name}_count", labels), 0) == len(mine)
        assert s.get((f"{name}_sum", labels), 0.0) == pytest.approx(sum(t.duration_s for t in mine))
        for reason in REASONS[1:]:
            want = sum(1 for t in mine if t.error == reason)
            got = s.get(("wva_metrics_collection_errors_total", (*labels, ("reason", reason))), 0)
            assert got == want, (query_type, reason)
