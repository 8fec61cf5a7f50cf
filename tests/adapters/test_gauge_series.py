"""The exporter's cached series (adapters.gauge_series): a long-lived exporter shows, after each publish, exactly
the gauge samples a fresh exporter shows for that publish alone, and `SeriesCache` itself sets, skips and removes
as a plain `labels().set()` / `remove()` would."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.adapters.gauge_series import SeriesCache
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Action, Decision, PlanCondition, VariantTelemetry

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _gauge_samples(g: GaugeExporter) -> Samples:
    """Every sample of every gauge family (counters and histograms accumulate over publishes, and their `_created`
    gauges tell when the exporter was made: not compared). A family without labels has one series that keeps its
    last value when a plan does not set it (by design, v09_metrics): compared only when it has labels."""
    out: Samples = {}
    for fam in text_string_to_metric_families(g.render().decode()):
        if fam.type != "gauge" or fam.name.endswith("_created"):
            continue
        for s in fam.samples:
            if s.labels:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


_telemetry = st.builds(
    VariantTelemetry,
    unit=st.sampled_from(["", "kv", "rps"]),
    required=st.none() | st.sampled_from([0.0, -0.0, 1.5, 3.0]),
    spare=st.none() | st.sampled_from([0.0, 2.0]),
    kv_tokens_used=st.none() | st.sampled_from([0.0, 100.0, 250.0]),
    utilization=st.none() | st.sampled_from([0.0, 0.4, 0.9]),
    pods_fresh=st.integers(0, 2),
    pods_stale=st.integers(0, 1),
    limiter_enabled=st.booleans(),
    gpu_discovery=st.sampled_from([-1, 0, 1]),
    gpus_available=st.sampled_from([(), (("H100", 4.0),), (("A100", 1.0), ("H100", 0.0))]),
)


@st.composite
def _decision(draw: st.DrawFn, name: str) -> Decision:
    current = draw(st.integers(0, 3))
    desired = draw(st.integers(0, 3))
    action = Action.NO_CHANGE if desired == current else (Action.SCALE_UP if desired > current else Action.SCALE_DOWN)
    return Decision(
        namespace=draw(st.sampled_from(["ns-a", "ns-b"])),
        name=name,
        modelID=draw(st.sampled_from(["m1", "m2"])),
        accelerator=draw(st.sampled_from(["H100", "A100", ""])),
        current_replicas=current,
        desired_replicas=desired,
        action=action,
        reason="test",
        held=draw(st.booleans()),
        publish=draw(st.booleans()),
        conditions=[
            PlanCondition(type="MetricsAvailable", status=draw(st.sampled_from(["True", "False"])), reason="test")
        ],
        telemetry=draw(_telemetry),
    )


@st.composite
def _plan(draw: st.DrawFn) -> list[Decision]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4))
    return [draw(_decision(n)) for n in names]


@settings(max_examples=60, deadline=None)
@given(plans=st.lists(_plan(), min_size=1, max_size=6), instance=st.sampled_from([None, "ci-1"]))
def test_a_long_lived_exporter_shows_what_a_fresh_one_shows(plans: list[list[Decision]], instance: str | None) -> None:
    kept = GaugeExporter(instance, interval_s=30.0)
    for decisions in plans:
        kept.apply(decisions)
        fresh = GaugeExporter(instance, interval_s=30.0)
        fresh.apply(decisions)
        assert _gauge_samples(kept) == _gauge_samples(fresh)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([1.0, 1.0], "1.0", id="unchanged"),
        pytest.param([1.0, 2.0], "2.0", id="changed"),
        pytest.param([0.0, -0.0], "-0.0", id="sign-of-zero"),
        pytest.param([math.nan, 3.0], "3.0", id="after-nan"),
        pytest.param([3.0, math.nan], "NaN", id="to-nan"),
    ],
)
def test_series_cache_sets_like_labels_set(values: list[float], expected: str) -> None:
    reg = CollectorRegistry()
    family = Gauge("g", "g", ["x"], registry=reg)
    cache = SeriesCache()
    for v in values:
        cache.set(family, ("1",), v)
    (sample,) = next(iter(reg.collect())).samples
    assert (repr(sample.value) if not math.isnan(sample.value) else "NaN") == expected


def test_a_removed_series_comes_back_when_set_again() -> None:
    reg = CollectorRegistry()
    family = Gauge("g", "g", ["x"], registry=reg)
    cache = SeriesCache()
    cache.set(family, ("1",), 5.0)
    cache.remove(family, ("1",))
    assert list(next(iter(reg.collect())).samples) == []
    cache.set(family, ("1",), 5.0)  # the same value as before the removal: still set on a new child
    assert [s.value for s in next(iter(reg.collect())).samples] == [5.0]
    cache.remove(family, ("2",))  # never set: nothing happens
    assert len(cache) == 1
