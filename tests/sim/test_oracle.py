"""The bounds (wva_ray.sim.bench.oracle) on instances whose optimum is known by hand, and the goodput envelope."""

from __future__ import annotations

import numpy as np
import pytest

from wva_ray.sim.bench.goodput import GoodputCurve, _concave_majorant
from wva_ray.sim.bench.oracle import BoundInput, BoundVariant, solve_bounds


def _linear(per_replica: float) -> GoodputCurve:
    return GoodputCurve({1: per_replica}, ((per_replica, 0.0),), per_replica)


def _var(name: str = "v", model: str = "m", mu: float = 10.0, **kw: float) -> BoundVariant:
    return BoundVariant(
        name=name,
        model=model,
        gpus=int(kw.get("gpus", 1)),
        accelerator=str(kw.get("acc", "H100")),
        startup_s=float(kw.get("startup_s", 0.0)),
        initial=int(kw.get("initial", 0)),
        max_replicas=int(kw.get("max_replicas", 100)),
        curve=_linear(mu),
    )


def _inp(demand_rps: list[float], dt: float = 10.0, **kw: float) -> BoundInput:
    counts = np.array(demand_rps) * dt
    lag = {"m": 15.0 + kw.get("startup_s", 0.0)}
    return BoundInput(dt, {"m": counts}, {"m": int(counts.sum())}, [_var(**kw)], None, lag)


def test_constant_demand_costs_demand_over_goodput() -> None:
    b = solve_bounds(_inp([25.0] * 36, initial=3))  # one hour of 10-s intervals = 0.1 h
    assert b.oracle_gpu_hours[0.99] == pytest.approx(2.5 * 0.99 * 0.1, rel=1e-6)
    assert b.oracle_max_attainment == pytest.approx(1.0)


def test_start_up_is_billed_and_the_initial_fleet_counts() -> None:
    # from 0 to 10 req/s at t=60 s with a 60-s start-up and no initial fleet: the replica starts at t=0
    demand = [0.0] * 6 + [10.0] * 6
    b = solve_bounds(_inp(demand, startup_s=60.0, initial=0))
    # a fractional replica, billed from its start
    assert b.oracle_gpu_hours[0.99] == pytest.approx(0.99 * 120 / 3600, rel=1e-3)


def test_causal_bound_loses_the_step_until_detection_and_start_up() -> None:
    # 1 replica (10 req/s) serves 10 req/s; a step to 30 req/s at 100 s; lag = 15 s scrape + 60 s start-up
    demand = [10.0] * 10 + [30.0] * 20
    b = solve_bounds(_inp(demand, startup_s=60.0, initial=1))
    assert b.oracle_max_attainment == pytest.approx(1.0)
    lost = 20.0 * 80.0  # 8 intervals (lag rounded up) of 20 req/s above the first replica
    assert b.causal_max_attainment == pytest.approx(1.0 - lost / (100 * 10 + 200 * 30), rel=1e-6)
    assert b.causal_gpu_hours[0.99] is None  # unreachable without foresight


def test_more_attainment_never_costs_less() -> None:
    b = solve_bounds(_inp([5.0, 40.0, 5.0, 40.0] * 5, startup_s=30.0, initial=1))
    hours = [b.oracle_at({"m": a}) for a in (0.5, 0.7, 0.8, 0.9)]
    assert all(h is not None for h in hours)
    assert hours == sorted(hours)  # type: ignore[type-var]


def test_gpu_budget_caps_the_attainment() -> None:
    counts = np.full(6, 300.0)  # 30 req/s x 10 s, 10 req/s per replica: 3 replicas needed, 2 allowed
    inp = BoundInput(10.0, {"m": counts}, {"m": int(counts.sum())}, [_var(initial=2)], {"H100": 2}, {"m": 15.0})
    assert solve_bounds(inp).oracle_max_attainment == pytest.approx(2 / 3)


def test_envelope_is_concave_and_above_the_points() -> None:
    pts = [(0.0, 0.0), (1.0, 10.0), (2.0, 24.0), (3.0, 33.0), (4.0, 40.0)]
    segs = _concave_majorant(pts)
    curve = GoodputCurve({}, segs, 10.0)
    for x, y in pts:
        assert curve.at(x) >= y - 1e-9
    slopes = [a for a, _ in segs]
    assert slopes == sorted(slopes, reverse=True)


def test_each_model_must_reach_the_target() -> None:
    # a cheap model with many requests and a costly one with few: 0.99 overall could drop the costly one
    counts = {"a": np.full(6, 1000.0), "b": np.full(6, 5.0)}
    vs = [_var("va", "a", mu=100.0, initial=1), _var("vb", "b", mu=0.5, initial=1, gpus=4)]
    inp = BoundInput(10.0, counts, {"a": 6000, "b": 30}, vs, None, {"a": 15.0, "b": 15.0})
    b = solve_bounds(inp)
    both = b.oracle_at({"a": 0.99, "b": 0.99})
    only_a = b.oracle_at({"a": 0.99, "b": 0.0})
    assert both is not None and only_a is not None and both > only_a
    assert b.oracle_gpu_hours[0.99] == pytest.approx(both)
