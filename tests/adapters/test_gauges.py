"""Decision gauges: upstream names and labels, ratio rule, change counter, removal of vanished VAs."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Action, Decision, PlanCondition


def _d(name: str, current: int, desired: int, accel: str = "H100", publish: bool = True, ns: str = "llm") -> Decision:
    action = Action.NO_CHANGE if desired == current else (Action.SCALE_UP if desired > current else Action.SCALE_DOWN)
    return Decision(
        namespace=ns,
        name=name,
        modelID="m1",
        accelerator=accel,
        current_replicas=current,
        desired_replicas=desired,
        action=action,
        reason="test",
        publish=publish,
        conditions=[PlanCondition(type="OptimizationReady", status="True", reason="OptimizationSucceeded")],
    )


def _samples(g: GaugeExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(g.render().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _labels(name: str, accel: str = "H100", ns: str = "llm") -> tuple[tuple[str, str], ...]:
    return (("accelerator_type", accel), ("namespace", ns), ("variant_name", name))


@pytest.mark.parametrize(
    ("current", "desired", "ratio"),
    [
        pytest.param(2, 3, 1.5, id="normal"),
        pytest.param(0, 2, 2.0, id="current-zero-ratio-is-desired"),
        pytest.param(4, 0, 0.0, id="to-zero"),
    ],
)
def test_gauges_and_ratio(current: int, desired: int, ratio: float) -> None:
    g = GaugeExporter()
    g.apply([_d("a", current, desired)])
    s = _samples(g)
    assert s[("wva_desired_replicas", _labels("a"))] == desired
    assert s[("wva_current_replicas", _labels("a"))] == current
    assert s[("wva_desired_ratio", _labels("a"))] == ratio


def test_deleted_and_unpublishable_vas_lose_their_series() -> None:
    g = GaugeExporter()
    g.apply([_d("a", 1, 1), _d("b", 1, 2)])
    g.apply([_d("a", 1, 1), _d("b", 1, 2, publish=False)])
    s = _samples(g)
    assert ("wva_desired_replicas", _labels("a")) in s
    assert not any(k[0] == "wva_desired_replicas" and ("variant_name", "b") in k[1] for k in s)


def test_accelerator_change_moves_the_series() -> None:
    g = GaugeExporter()
    g.apply([_d("a", 1, 1, accel="H100")])
    g.apply([_d("a", 1, 1, accel="A100")])
    s = _samples(g)
    assert ("wva_desired_replicas", _labels("a", "A100")) in s
    assert ("wva_desired_replicas", _labels("a", "H100")) not in s


def test_scaling_counter_counts_changes_only() -> None:
    g = GaugeExporter()
    for desired in (1, 1, 2, 3, 3, 2):
        g.apply([_d("a", 1, desired)])
    s = _samples(g)
    up = (
        ("direction", "up"),
        ("namespace", "llm"),
        ("reason", "OptimizationSucceeded"),
        ("variant_name", "a"),
    )
    down = (("direction", "down"), *up[1:])
    assert s[("wva_replica_scaling_total", up)] == 2
    assert s[("wva_replica_scaling_total", down)] == 1


def test_controller_instance_label() -> None:
    g = GaugeExporter(controller_instance="ci-1")
    g.apply([_d("a", 1, 2)])
    s = _samples(g)
    assert s[("wva_desired_replicas", (*_labels("a")[:1], ("controller_instance", "ci-1"), *_labels("a")[1:]))] == 2


def test_private_registries_do_not_collide_and_health_metrics_exist() -> None:
    g1, g2 = GaugeExporter(), GaugeExporter()
    g1.observe_cycle(0.2)
    g1.set_shard_lag(0, 1.5)
    g1.count_error("metrics")
    s = _samples(g1)
    assert s[("wva_cycle_duration_seconds_count", ())] == 1
    assert s[("wva_shard_lag_seconds", (("shard", "0"),))] == 1.5
    assert s[("wva_errors_total", (("component", "controller"), ("error_type", "metrics")))] == 1
    assert ("wva_cycle_duration_seconds_count", ()) in _samples(g2)
    assert any(k[0] == "wva_build_info" for k in s)


def test_serves_text_format_over_http() -> None:
    g = GaugeExporter()
    g.apply([_d("a", 1, 3)])
    port = g.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
    finally:
        g.close()
    assert 'wva_desired_replicas{accelerator_type="H100",namespace="llm",variant_name="a"} 3.0' in body


def test_relayed_port_serves_the_driver_flags_and_the_coordinators_families_once() -> None:
    coordinator, driver = GaugeExporter(), GaugeExporter()
    coordinator.apply([_d("a", 1, 3)])
    coordinator.count_error("metrics")
    driver.set_leader(True)
    port = driver.serve(0, "127.0.0.1", relayed=True)

    def scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        names = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
        assert len(names) == len(set(names)), f"a family is exported twice: {sorted(names)}"
        return {f.name: [(s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(body)}

    try:
        assert "wva_desired_replicas" not in scrape(), "decision gauges served before any relay"
        driver.relay.update(coordinator.families())
        families = scrape()
        assert families["wva_desired_replicas"] == [(dict(_labels("a")), 3.0)]
        assert families["wva_is_leader"] == [({}, 1.0)], "the driver's own leader flag must win"
        assert ({"component": "controller", "error_type": "metrics"}, 1.0) in families["wva_errors"]
        driver.relay.clear()
        assert "wva_desired_replicas" not in scrape()
        assert scrape()["wva_is_leader"] == [({}, 1.0)]
    finally:
        driver.close()
