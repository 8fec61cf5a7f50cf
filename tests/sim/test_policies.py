"""Baseline policies: HPA arithmetic and behaviour, Ray Serve delays, WVA V1 signals (tables of named cases)."""

from __future__ import annotations

import dataclasses

import pytest

from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.observe import ModelView, Observation, PodView, VariantView
from wva_ray.sim.policies.base import WVA_CHART_BEHAVIOR, HpaBehavior, HpaStabilizer
from wva_ray.sim.policies.hpa import HpaKv, hpa_recommendation
from wva_ray.sim.policies.kpa import Kpa
from wva_ray.sim.policies.planner import Planner
from wva_ray.sim.policies.ray_serve import RayServe
from wva_ray.sim.policies.wva_upstream import V1Settings, WvaUpstream, v1_signals

PROFILE = get_profile("llama-3.1-8b/H100")


def _pod(name: str, kv: float = 0.5, queue: float = 0.0, ongoing: float = 10.0, ready: bool = True) -> PodView:
    return PodView(name, ready, False, kv, queue, kv, ongoing, ongoing, queue, 1000.0, 200.0, 5.0)


def _view(pods: list[PodView], current: int | None = None, pending: int = 0, cost: float = 1.0) -> VariantView:
    ready = sum(p.ready for p in pods)
    return VariantView(
        "v",
        "m",
        PROFILE.accelerator,
        PROFILE.gpus,
        cost,
        current if current is not None else ready + pending,
        ready,
        pending,
        1,
        50,
        tuple(pods),
    )


def _obs(now: float, view: VariantView) -> Observation:
    return Observation(now, (view,), (ModelView("m", 100, 0, 0.0),), None)


@pytest.mark.parametrize(
    ("usages", "pending", "expected"),
    [
        pytest.param([0.7, 0.7], 0, 2, id="at-target"),
        pytest.param([0.75, 0.75], 0, 2, id="inside-tolerance"),
        pytest.param([1.0, 1.0], 0, 3, id="up-ceil"),
        pytest.param([0.35, 0.35], 0, 1, id="down-half"),
        pytest.param([0.8, 0.8], 1, 3, id="pending-count-as-zero-drops-up"),
        pytest.param([], 0, 2, id="no-metrics-hold"),
    ],
)
def test_hpa_recommendation(usages: list[float], pending: int, expected: int) -> None:
    view = _view([_pod("a"), _pod("b")], current=2 + pending, pending=pending)
    expected = expected if pending == 0 else view.current
    assert hpa_recommendation(view, usages, 0.7, 0.1) == expected


def test_hpa_scale_down_waits_for_the_stabilization_window() -> None:
    stab = HpaStabilizer(HpaBehavior())
    assert stab.apply(0.0, 4, 4) == 4
    assert stab.apply(15.0, 4, 2) == 4  # the window still holds the 4 recommendation
    assert stab.apply(299.0, 4, 2) == 4
    assert stab.apply(316.0, 4, 2) == 2


def test_hpa_scale_up_rate_limit_default_is_max_of_double_and_four() -> None:
    stab = HpaStabilizer(HpaBehavior())
    assert stab.apply(0.0, 1, 20) == 5  # max(2*1, 1+4)
    assert stab.apply(15.0, 5, 20) == 10


def test_wva_chart_behaviour_holds_up_for_240s() -> None:
    stab = HpaStabilizer(WVA_CHART_BEHAVIOR)
    assert stab.apply(0.0, 2, 2) == 2
    assert stab.apply(60.0, 2, 3) == 2  # min over the 240 s window is still 2
    assert stab.apply(241.0, 2, 3) == 3


def test_hpa_kv_policy_scales_up_on_high_kv() -> None:
    pol = HpaKv()
    view = _view([_pod("a", kv=0.95), _pod("b", kv=0.95)])
    assert pol.decide(_obs(0.0, view)) == {"v": 3}


@pytest.mark.parametrize(
    ("pods", "up", "down"),
    [
        pytest.param([(0.5, 0), (0.5, 0)], False, False, id="steady"),
        pytest.param([(0.75, 0), (0.75, 0)], True, False, id="kv-spare-low"),
        pytest.param([(0.85, 6), (0.5, 0)], False, False, id="one-saturated"),
        pytest.param([(0.1, 0), (0.1, 0), (0.1, 0)], False, True, id="room-to-shrink"),
        pytest.param([(0.9, 0)], True, False, id="all-saturated"),
    ],
)
def test_v1_signals(pods: list[tuple[float, float]], up: bool, down: bool) -> None:
    assert v1_signals(pods, V1Settings()) == (up, down)


def test_wva_upstream_goes_through_the_hpa_window() -> None:
    pol = WvaUpstream()
    calm = _view([_pod("a", kv=0.6), _pod("b", kv=0.6)])
    hot = _view([_pod("a", kv=0.9), _pod("b", kv=0.9)])
    assert pol.decide(_obs(0.0, calm)) == {"v": 2}
    assert pol.decide(_obs(60.0, hot)) == {"v": 2}  # gauge says 3, the 240 s window still holds 2
    assert pol.decide(_obs(240.0, hot)) == {"v": 2}
    assert pol.decide(_obs(301.0, hot)) == {"v": 3}


def test_ray_serve_waits_upscale_delay_then_jumps() -> None:
    pol = RayServe({"v": 2.0})
    assert pol.max_ongoing_per_replica == 5  # Serve's core default, enforced by the simulator's router
    view = _view([_pod("a", ongoing=10), _pod("b", ongoing=10)])  # 20 ongoing / 2 = 10 replicas
    results = [pol.decide(_obs(float(t), view)) for t in range(31)]
    assert all(r == {} for r in results[:29])
    assert results[29] == {"v": 10}


def test_ray_serve_neutral_decision_resets_the_counter() -> None:
    pol = RayServe({"v": 2.0}, downscale_delay_s=5.0)
    low = _view([_pod("a", ongoing=1), _pod("b", ongoing=1)])
    even = _view([_pod("a", ongoing=2), _pod("b", ongoing=2)])
    for t in range(4):
        assert pol.decide(_obs(float(t), low)) == {}
    assert pol.decide(_obs(4.0, even)) == {}
    for t in range(5, 9):
        assert pol.decide(_obs(float(t), low)) == {}
    assert pol.decide(_obs(9.0, low)) == {"v": 1}


def test_hpa_kv_never_scales_to_zero_even_when_the_variant_allows_it() -> None:
    """An HPA on a per-pod metric has minReplicas >= 1: at zero it could never read a metric again."""
    pol = HpaKv()
    view = dataclasses.replace(_view([_pod("a", kv=0.0), _pod("b", kv=0.0)]), min_replicas=0)
    assert pol.decide(_obs(0.0, view)) == {"v": 1}
    assert pol.decide(_obs(600.0, view)) == {"v": 1}


def test_hpa_running_reads_running_over_max_num_seqs() -> None:
    pol = HpaKv("hpa-running", target=0.05, metric="running", max_num_seqs={"v": 100})
    pods = [dataclasses.replace(_pod(n), running_avg_1m=10.0) for n in ("a", "b")]  # 0.10 each: 2x the target
    assert pol.decide(_obs(0.0, _view(pods))) == {"v": 4}


def test_kpa_panics_on_a_burst_and_does_not_shrink_inside_the_window() -> None:
    pol = Kpa(target=10.0)
    calm = _view([_pod("a", ongoing=5), _pod("b", ongoing=5)])
    burst = _view([_pod("a", ongoing=40), _pod("b", ongoing=40)])
    assert pol.decide(_obs(0.0, calm))["v"] == 1
    for t in range(2, 60, 2):
        pol.decide(_obs(float(t), calm))
    for t in (60.0, 62.0, 64.0):
        pol.decide(_obs(t, burst))
    assert pol.decide(_obs(66.0, burst))["v"] == 8  # the 6-s panic window sees 80 ongoing / 10 at once
    assert pol.decide(_obs(68.0, calm))["v"] == 8  # in panic the fleet never shrinks


def test_planner_forecasts_the_trend_over_profiled_capacity() -> None:
    pol = Planner({"v": 10.0}, adjustment_interval_s=60.0)
    view = _view([_pod("a")])
    seen = []
    for k in range(4):
        models = (ModelView("m", 100, 0, 0.0, 600 * k * (k + 1)),)
        seen.append(pol.decide(Observation(60.0 * k, (view,), models, None)))
    assert seen[0] == {}
    assert seen[-1]["v"] >= 6  # received rate 40, 60, 80 req/s and rising: >= ceil(60 / 10)
