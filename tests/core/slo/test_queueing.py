"""Queueing building blocks against closed forms (M/M/1, M/M/1/K, M/M/c, Pollaczek-Khinchine)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wva_ray.core.analyzers.slo.queueing import (
    chain_metrics,
    gamma_quantile,
    pk_mean_wait_s,
    stationary_distribution,
    wait_quantile_s,
)

rates = st.floats(min_value=0.01, max_value=50.0)


@settings(max_examples=60, deadline=None)
@given(mu=rates, rho=st.floats(min_value=0.01, max_value=0.9))
def test_long_queue_matches_mm1(mu: float, rho: float) -> None:
    lam = rho * mu
    m = chain_metrics(lam, np.array([mu]), queue_limit=3000)
    assert m.mean_in_system == pytest.approx(rho / (1 - rho), rel=1e-6)
    assert m.mean_response_s == pytest.approx(1 / (mu - lam), rel=1e-6)
    assert m.mean_wait_s == pytest.approx(rho / (mu - lam), rel=1e-6)
    assert m.p_wait == pytest.approx(rho, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(mu=rates, rho=st.floats(min_value=0.05, max_value=3.0), k=st.integers(min_value=1, max_value=40))
def test_finite_queue_matches_mm1k(mu: float, rho: float, k: int) -> None:
    lam = rho * mu
    p = stationary_distribution(lam, np.array([mu]), queue_limit=k - 1)
    assert p.size == k + 1
    if abs(rho - 1) < 1e-9:
        expected = np.full(k + 1, 1 / (k + 1))
    else:
        expected = (1 - rho) * rho ** np.arange(k + 1) / (1 - rho ** (k + 1))
    np.testing.assert_allclose(p, expected, rtol=1e-7, atol=1e-12)
    m = chain_metrics(lam, np.array([mu]), queue_limit=k - 1)
    assert m.p_full == pytest.approx(expected[-1], rel=1e-7, abs=1e-12)
    assert m.throughput_per_s == pytest.approx(lam * (1 - expected[-1]), rel=1e-7)


def _erlang_c(c: int, a: float) -> float:
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(
    ("servers", "lam", "mu"),
    [pytest.param(2, 1.5, 1.0, id="c2"), pytest.param(5, 4.0, 1.0, id="c5"), pytest.param(10, 3.0, 0.5, id="c10")],
)
def test_state_dependent_rates_match_mmc(servers: int, lam: float, mu: float) -> None:
    m = chain_metrics(lam, mu * np.arange(1, servers + 1, dtype=float), queue_limit=4000)
    pw = _erlang_c(servers, lam / mu)
    assert m.p_wait == pytest.approx(pw, rel=1e-6)
    assert m.mean_wait_s == pytest.approx(pw / (servers * mu - lam), rel=1e-6)
    # M/M/c waiting time is an atom at 0 plus an exponential tail: the quantile helper is exact there.
    q = 0.95
    t = wait_quantile_s(m.p_wait, m.mean_wait_s, q)
    assert pw * math.exp(-(servers * mu - lam) * t) == pytest.approx(1 - q, rel=1e-6)


def test_zero_rate_is_empty_and_bad_inputs_are_named() -> None:
    m = chain_metrics(0.0, np.array([1.0, 2.0]), queue_limit=3)
    assert m.mean_in_system == 0 and m.p_full == 0
    with pytest.raises(ValueError, match="rate"):
        chain_metrics(-1.0, np.array([1.0]), 1)
    with pytest.raises(ValueError, match="queue_limit"):
        chain_metrics(1.0, np.array([1.0]), -1)
    with pytest.raises(ValueError, match="service_rates"):
        chain_metrics(1.0, np.array([0.0]), 1)


def test_pk_is_mm1_for_exponential_and_md1_for_deterministic() -> None:
    lam, s = 0.8, 1.0
    assert pk_mean_wait_s(lam, s, 1.0) == pytest.approx(lam * s / (1 / s - lam) / 1.0 * s, rel=1e-9)
    assert pk_mean_wait_s(lam, s, 0.0) == pytest.approx(0.8 / (2 * 0.2), rel=1e-9)
    assert pk_mean_wait_s(2.0, 1.0, 1.0) == math.inf


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(0.01, 10.0), cv=st.floats(0.05, 5.0), q=st.floats(0.5, 0.99))
def test_gamma_quantile_is_monotone_and_exact_for_exponential(mean: float, cv: float, q: float) -> None:
    var = (cv * mean) ** 2
    assert gamma_quantile(mean, var, q) <= gamma_quantile(mean, var, min(q + 0.005, 0.995)) + 1e-12
    # shape 1 = exponential
    assert gamma_quantile(mean, mean * mean, q) == pytest.approx(-mean * math.log(1 - q), rel=1e-6)
    assert gamma_quantile(mean, 0.0, q) == mean
