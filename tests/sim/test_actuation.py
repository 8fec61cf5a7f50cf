"""Actuation modes: direct acts at once; hpa/keda act on the gauge as last scraped, with tolerance and behaviour."""

from __future__ import annotations

from wva_ray.sim.actuation import CHART_PASS_THROUGH, Direct, GaugeScaler, ScalerSettings, make_actuator
from wva_ray.sim.bench.policies import fresh_install
from wva_ray.sim.observe import VariantView
from wva_ray.sim.policies.base import HpaBehavior


def _view(current: int, min_replicas: int = 1) -> tuple[VariantView, ...]:
    return (VariantView("v", "m", "H100", 1, 1.0, current, current, 0, min_replicas, 20, ()),)


def test_direct_applies_the_decision_once() -> None:
    act = Direct(30.0)
    act.publish(0.0, {"v": 3})
    assert act.apply(0.0, ()) == {"v": 3}
    assert act.apply(30.0, ()) == {}


def test_hpa_sees_the_gauge_only_after_a_scrape() -> None:
    act = GaugeScaler("hpa", scrape_s=15.0)
    act.publish(20.0, {"v": 5})
    assert act.apply(25.0, _view(2)) == {}  # last scrape at 15 s: no gauge yet
    assert act.apply(30.0, _view(2)) == {"v": 5}


def test_hpa_tolerance_and_min_replicas() -> None:
    act = GaugeScaler("hpa", scrape_s=15.0)
    act.publish(0.0, {"v": 21})
    assert act.apply(15.0, _view(20)) == {"v": 20}  # 21 / 20 within 10 %
    act.publish(15.0, {"v": 0})
    assert act.apply(30.0, _view(20)) == {"v": 10}  # pass-through: 10 pods per 15 s, floor minReplicas 1


def test_keda_default_behaviour_waits_before_scaling_down() -> None:
    act = make_actuator("keda", 60.0, 15.0, ScalerSettings(HpaBehavior()))
    act.publish(0.0, {"v": 4})
    assert act.apply(15.0, _view(4)) == {"v": 4}
    act.publish(20.0, {"v": 2})
    assert act.apply(30.0, _view(4)) == {"v": 4}  # the 300 s down-stabilisation window still holds 4
    assert act.apply(330.0, _view(4)) == {"v": 2}


def test_fresh_install_reads_the_chart() -> None:
    fresh = fresh_install()
    assert fresh.interval_s > 0
    assert fresh.behavior == CHART_PASS_THROUGH  # the chart passes decisions through
    assert isinstance(fresh.saturation_default.get("analyzerName", ""), str)  # whatever the chart selects
