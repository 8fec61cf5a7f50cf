"""Bayesian linear regression: converges to the truth, uncertainty shrinks, robust, state round-trips."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from wva_ray.core.analyzers.learned import blr


def _fit(truth: tuple[float, float], prior_mean: tuple[float, float], n: int, noise: float, seed: int = 1):
    rng = random.Random(seed)
    s = blr.prior(prior_mean, (abs(prior_mean[0]) + 1, abs(prior_mean[1]) + 1), noise_std=max(noise, 0.01))
    for _ in range(n):
        x = rng.uniform(0, 50)
        y = truth[0] + truth[1] * x + rng.gauss(0, noise)
        s, _ = blr.update(s, (1.0, x), y)
    return s


def test_recovers_a_line_from_a_wrong_prior() -> None:
    s = _fit((7.4, 0.3), (12.0, 0.05), 200, 0.2)
    assert abs(s.theta[0] - 7.4) < 0.2
    assert abs(s.theta[1] - 0.3) < 0.01
    assert s.samples == 200


def test_uncertainty_shrinks_with_samples() -> None:
    sds = [_fit((5.0, 0.1), (5.0, 0.1), n, 0.5).std()[0] for n in (0, 5, 50, 300)]
    assert sds == sorted(sds, reverse=True)


def test_an_outlier_moves_little() -> None:
    s = _fit((5.0, 0.1), (5.0, 0.1), 100, 0.1)
    out, note = blr.update(s, (1.0, 10.0), 500.0)
    assert "outlier" in note and out.theta == s.theta and out.rejected == 1


def test_bounds_hold() -> None:
    s = blr.prior((1.0,), (1.0,), 0.1)
    for _ in range(20):
        s, _ = blr.update(s, (1.0,), -5.0, lower=(0.0,))
    assert s.theta[0] >= 0.0


def test_non_finite_observation_is_skipped() -> None:
    s = blr.prior((1.0, 1.0), (1.0, 1.0), 0.1)
    out, note = blr.update(s, (1.0, math.nan), 2.0)
    assert out == s and "skipped" in note


def test_round_trip_and_bad_state() -> None:
    s = _fit((5.0, 0.1), (4.0, 0.2), 30, 0.3)
    assert blr.BlrState.from_dict(s.to_dict()) == s
    bad = s.to_dict() | {"p": [1.0]}
    try:
        blr.BlrState.from_dict(bad)
    except ValueError as err:
        assert "p needs" in str(err)
    else:
        raise AssertionError("expected ValueError")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(-1e3, 1e3), st.floats(0.01, 10)), min_size=1, max_size=40))
def test_covariance_stays_symmetric_positive(obs: list[tuple[float, float, float]]) -> None:
    s = blr.prior((1.0, 0.1), (2.0, 1.0), 0.5)
    for x, y, w in obs:
        s, _ = blr.update(s, (1.0, x), y, w)
    cov = s.cov()
    assert all(math.isfinite(v) for v in s.theta)
    assert abs(cov[0][1] - cov[1][0]) <= 1e-9 * max(1.0, abs(cov[0][1]))
    assert cov[0][0] > 0 and cov[1][1] > 0
