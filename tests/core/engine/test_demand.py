"""Demand: arrivals are completions plus in-flight growth, the spread follows burstiness, the forecast is bounded."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wva_ray.core.analyzers.learned import demand as dem


def test_arrivals_include_queue_growth_during_an_overload() -> None:
    s, _ = dem.observe(dem.DemandState(), 10.0, 5.0, 0.0)
    # completions saturate at 10 req/s while 300 more requests pile up in 30 s: arrivals are 20 req/s
    s, est = dem.observe(s, 10.0, 305.0, 30.0)
    assert est.observed_per_s == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("completions", "before", "after", "expected"),
    [(5.0, 0.0, 0.0, 5.0), (5.0, 0.0, 30.0, 6.0), (5.0, 300.0, 0.0, 0.0), (0.0, 10.0, 10.0, 0.0)],
)
def test_arrival_table(completions: float, before: float, after: float, expected: float) -> None:
    s, _ = dem.observe(dem.DemandState(), completions, before, 0.0)
    _, est = dem.observe(s, completions, after, 30.0)
    assert est.observed_per_s == pytest.approx(expected)


def _spread(cv: float, seed: int = 3) -> float:
    rng = random.Random(seed)
    s = dem.DemandState()
    est = None
    for i in range(200):
        rate = max(0.0, rng.gauss(50.0, 50.0 * cv))
        s, est = dem.observe(s, rate, 0.0, 30.0 * i)
    assert est is not None
    return est.spread_per_s


def test_bursty_workload_has_more_spread_than_a_smooth_one() -> None:
    assert _spread(0.5) > 3 * _spread(0.05)


def test_trend_is_followed_and_bounded() -> None:
    s = dem.DemandState()
    est = None
    for i in range(40):
        s, est = dem.observe(s, 10.0 + i, 0.0, 30.0 * i)
    assert est is not None and est.trend_per_s2 > 0
    ahead = dem.forecast(s, est, 1200.0, 300.0)
    assert est.level_per_s < ahead <= 2.0 * est.level_per_s


def test_daily_profile_after_a_day() -> None:
    s = dem.DemandState()
    est = None
    for i in range(0, 2 * 86400, 300):
        hour = (i % 86400) // 3600
        s, est = dem.observe(s, 100.0 if hour == 10 else 10.0, 0.0, float(i))
    assert est is not None and est.seasonal
    t = 2 * 86400 + 9 * 3600 + 1800.0  # 09:30, rate 10 now, 100 at 10:00
    s, est = dem.observe(s, 10.0, 0.0, t)
    assert dem.forecast(s, est, t, 1800.0) > 2 * est.level_per_s


def test_state_round_trip() -> None:
    s, _ = dem.observe(dem.DemandState(), 3.0, 1.0, 0.0)
    s, _ = dem.observe(s, 4.0, 2.0, 30.0)
    assert dem.DemandState.from_dict(s.to_dict()) == s


@given(st.lists(st.tuples(st.floats(0, 1e4), st.floats(0, 1e5)), min_size=1, max_size=50))
def test_estimates_are_finite_and_non_negative(obs: list[tuple[float, float]]) -> None:
    s = dem.DemandState()
    for i, (c, q) in enumerate(obs):
        s, est = dem.observe(s, c, q, 30.0 * i)
        assert est.observed_per_s >= 0 and est.level_per_s >= 0 and est.spread_per_s >= 0
        assert dem.forecast(s, est, 30.0 * i, 300.0) >= 0


def _poisson_spread(dt: float, rate: float = 1.5, service_s: float = 2.0, minutes: float = 20.0) -> float:
    """A steady Poisson stream observed every `dt` seconds: completions counted over the cycle, and the in-flight
    count (about Poisson with mean rate x service time) read at the cycle's end."""
    rng = random.Random(7)
    s, est = dem.DemandState(), None
    t = 0.0
    while t < minutes * 60:
        n = sum(1 for _ in range(int(rate * dt * 20)) if rng.random() < 0.05)  # binomial ~ Poisson(rate dt)
        in_flight = float(sum(1 for _ in range(int(rate * service_s * 20)) if rng.random() < 0.05))
        s, est = dem.observe(s, n / dt, in_flight, t)
        t += dt
    assert est is not None
    return est.spread_per_s


def test_a_steady_stream_gets_the_same_spread_whatever_the_interval() -> None:
    fast, slow = _poisson_spread(2.0), _poisson_spread(30.0)
    assert fast <= 2.0 * slow, (fast, slow)
    assert fast < 0.5  # measured per 2-s cycle (spread_span_s=0) it is 0.96 req/s here


def test_spans_aggregate_short_cycles_and_survive_a_restart() -> None:
    s, _ = dem.observe(dem.DemandState(), 2.0, 4.0, 0.0)
    for k in range(1, 10):
        s, _ = dem.observe(s, 2.0, 4.0, 2.0 * k)
    assert len(s.residuals) == 0 and s.span_s == pytest.approx(18.0)  # 9 cycles of 2 s: still below 30 s
    again = dem.DemandState.from_dict(s.to_dict())
    assert again == s
    for k in range(10, 16):
        s, _ = dem.observe(s, 2.0, 4.0, 2.0 * k)
    assert s.span_s == pytest.approx(0.0) and s.last_span_rate == pytest.approx(2.0) and not s.residuals
    for k in range(16, 31):
        s, _ = dem.observe(s, 3.0, 4.0, 2.0 * k)
    assert s.residuals == pytest.approx((1.0,))  # one change between consecutive 30-s spans


def test_a_step_in_demand_is_not_burstiness() -> None:
    """A fall from 8 to 1.5 req/s is one change between spans: the spread stays at the noise's, so the headroom
    (and the fleet) is not held up for the spread window after the step."""
    rng = random.Random(11)
    s = dem.DemandState()
    t = 0.0
    for rate in [8.0] * 20 + [1.5] * 8:
        s, est = dem.observe(s, max(0.0, rng.gauss(rate, 0.05 * rate)), 0.0, t)
        t += 30.0
    assert est.spread_per_s < 0.5, est.spread_per_s


def test_the_warm_up_of_the_rate_window_is_not_read_as_growth() -> None:
    """A steady 1.5 req/s whose first readings climb (a partly filled 1-m rate window): no trend is extrapolated
    over a start-up horizon before one trend time constant of history."""
    s, t = dem.DemandState(), 0.0
    for k in range(60):  # 2-s cycles for 2 minutes; the reading fills in over the first 60 s
        s, est = dem.observe(s, 1.5 * min(1.0, (k + 1) * 2.0 / 60.0), 0.0, t)
        t += 2.0
    assert dem.forecast(s, est, t, 350.0) == pytest.approx(est.level_per_s)
    assert s.trend_per_s2 > 0  # the state does see the climb; the estimate does not extrapolate it yet


def _rise_and_fall(peak_s: float) -> tuple[dem.DemandState, dem.DemandEstimate, float, float]:
    """2-s cycles: 1.5 req/s for 8 min, a ramp to 8 req/s over the peak, then a fall to 1.5; returns the state and
    estimate at the fall, the level then and the fall's time."""
    s, t = dem.DemandState(), 0.0
    est = None
    for _ in range(240):
        s, est = dem.observe(s, 1.5, 0.0, t)
        t += 2.0
    steps = int(peak_s / 2.0)
    for k in range(steps):
        s, est = dem.observe(s, 1.5 + 6.5 * (k + 1) / steps, 0.0, t)
        t += 2.0
    assert est is not None and s.trend_per_s2 > 0
    return s, est, est.level_per_s, t


@pytest.mark.parametrize("peak_s", [pytest.param(60.0, id="1-min rise"), pytest.param(300.0, id="5-min rise")])
def test_a_trend_that_outlived_a_rise_does_not_hold_the_level_up_after_a_fall(peak_s: float) -> None:
    """After the fall the level decays exactly like the arrivals smoothed (no trend in its prediction), the trend
    is dropped within one span of the level falling, and the forecast is never above the level afterwards."""
    s, _, level0, t_fall = _rise_and_fall(peak_s)
    t = t_fall
    dropped_at = None
    while t < t_fall + 300.0:
        s, est = dem.observe(s, 1.5, 0.0, t)
        assert est.level_per_s == pytest.approx(1.5 + (level0 - 1.5) * math.exp(-(t - t_fall + 2.0) / 60.0), rel=1e-9)
        if dropped_at is None and s.trend_per_s2 <= 0:
            dropped_at = t
        if dropped_at is not None:
            assert s.trend_per_s2 <= 0
            assert dem.forecast(s, est, t, 200.0) <= est.level_per_s + 1e-12
        t += 2.0
    assert dropped_at is not None and dropped_at - t_fall <= 2 * 30.0, dropped_at


def test_the_forecast_adds_the_levels_lag_to_the_horizon() -> None:
    """In a steady ramp the smoothed level lags the arrivals by slope x level_tau_s; the forecast adds it back."""
    s, t, est = dem.DemandState(), 0.0, None
    for _ in range(600):  # 20 minutes of 2-s cycles, +0.01 req/s each second
        s, est = dem.observe(s, 5.0 + 0.01 * t, 0.0, t)
        t += 2.0
    assert est is not None
    now_rate = 5.0 + 0.01 * (t - 2.0)
    assert est.level_per_s == pytest.approx(now_rate - 0.01 * 60.0, abs=0.05)
    assert dem.forecast(s, est, t, 100.0) == pytest.approx(now_rate + 0.01 * 100.0, abs=0.1)


@pytest.mark.parametrize(
    ("memory_s", "clean_after_s"),
    [
        pytest.param(180.0, 180.0, id="memory of one 180-s window"),
        pytest.param(None, 12 * 30.0, id="no memory: the last 12 changes"),
    ],
)
def test_a_peaks_headroom_lasts_as_long_as_the_spread_memory(memory_s: float | None, clean_after_s: float) -> None:
    """A short peak seen through 30-s spans (four large changes, the last at 690 s): the spread is well above the
    Poisson floor after it, and back at the floor once the changes are older than the memory."""
    s, t = dem.DemandState(), 0.0
    rates = [2.0] * 20 + [5.0, 8.0, 5.0] + [2.0] * 30  # 30-s cycles
    t_last_change = 30.0 * 23
    for r in rates:
        s, est = dem.observe(s, r, 0.0, t, spread_memory_s=memory_s)
        floor = math.sqrt(est.level_per_s / 30.0)
        if t_last_change <= t <= t_last_change + 60.0:
            assert est.spread_per_s > 3 * floor, t
        if t >= t_last_change + clean_after_s:
            assert est.spread_per_s == pytest.approx(floor), t
        t += 30.0


def test_the_spread_is_never_under_the_poisson_sd_of_a_span() -> None:
    s, est = dem.DemandState(), None
    for k in range(40):
        s, est = dem.observe(s, 1.5, 3.0, 30.0 * k)
    assert est is not None and s.residuals and all(r == 0 for r in s.residuals)
    assert est.spread_per_s == pytest.approx(math.sqrt(1.5 / 30.0))


def test_a_closed_span_reports_its_rate() -> None:
    s, est = dem.observe(dem.DemandState(), 2.0, 0.0, 0.0)
    rates = []
    for k in range(1, 31):
        s, est = dem.observe(s, 2.0, 0.0, 2.0 * k)
        rates.append(est.span_rate_per_s)
    assert [r for r in rates if r is not None] == pytest.approx([2.0, 2.0])  # two 30-s spans in 60 s
    assert rates[14] is not None and rates[29] is not None


def test_state_written_before_the_span_level_reads() -> None:
    s, _ = dem.observe(dem.DemandState(), 3.0, 1.0, 0.0)
    for k in range(1, 20):
        s, _ = dem.observe(s, 4.0, 2.0, 2.0 * k)
    assert s.span_level is not None and dem.DemandState.from_dict(s.to_dict()) == s
    old = {k: v for k, v in s.to_dict().items() if k != "spanLevel"}
    assert dem.DemandState.from_dict(old).span_level is None
