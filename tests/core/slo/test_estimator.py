"""Online estimator: converges on noisy synthetic windows, rejects outliers, stays bounded, round-trips its state."""

from __future__ import annotations

import numpy as np
import pytest

from wva_ray.core.analyzers.slo.estimator import (
    EstimatorState,
    PerfObservation,
    _predict,
    initial_state,
    update,
)
from wva_ray.core.analyzers.slo.perf_model import PerfParams

BASE = PerfParams(11.5, 0.035, 0.067, 14600, 256, 400000, 2048)  # A100 row (derived, +-25 %)


def _windows(true: np.ndarray, n: int, seed: int, noise: float = 0.05, outlier_every: int = 0) -> list[PerfObservation]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        running = rng.uniform(5, 200)
        inp, outp = rng.uniform(300, 3000), rng.uniform(50, 400)
        shape = PerfObservation(0, 0, running, running * (inp + outp / 2), rng.uniform(0.5, 5), inp, outp)
        itl, ttft = _predict(true, shape, BASE, 1.0)
        itl *= rng.lognormal(0, noise)
        ttft *= rng.lognormal(0, 3 * noise)
        if outlier_every and k % outlier_every == outlier_every - 1:
            itl *= 6.0
        out.append(PerfObservation(itl, ttft, running, shape.kv_tokens, shape.rate_per_s, inp, outp))
    return out


@pytest.mark.parametrize(
    ("true", "seed"),
    [
        pytest.param((14.0, 0.05, 0.05, 1e6 / 12000), 1, id="slower-than-profile"),
        pytest.param((9.0, 0.025, 0.08, 1e6 / 17000), 2, id="faster-than-profile"),
    ],
)
def test_converges_on_noisy_windows_despite_outliers(true: tuple[float, ...], seed: int) -> None:
    x_true = np.array(true)
    state = initial_state(BASE)
    errors_before = _itl_errors(state, x_true)
    for obs in _windows(x_true, 300, seed, outlier_every=25):
        state, _ = update(state, obs, BASE)
    assert state.rejected >= 10  # the 12 planted outliers are (nearly all) caught
    assert state.updates >= 280
    assert state.confidence > 0.5
    assert state.x[0] == pytest.approx(true[0], rel=0.1)
    assert state.x[3] == pytest.approx(true[3], rel=0.1)
    errors_after = _itl_errors(state, x_true)
    assert errors_after < 0.03 < errors_before


def _itl_errors(state: EstimatorState, x_true: np.ndarray) -> float:
    """Mean relative ITL prediction error over a grid of operating points."""
    errs = []
    for running in (10.0, 60.0, 150.0):
        obs = PerfObservation(0, 0, running, running * 1500, 2.0, 1200, 200)
        got = _predict(np.array(state.x), obs, BASE, 1.0)[0]
        want = _predict(x_true, obs, BASE, 1.0)[0]
        errs.append(abs(got - want) / want)
    return float(np.mean(errs))


def test_one_bad_window_moves_little() -> None:
    state = initial_state(BASE)
    for obs in _windows(np.array(state.prior), 30, 3):
        state, _ = update(state, obs, BASE)
    before = state.x
    obs = _windows(np.array(state.prior), 1, 4)[0]
    wild = PerfObservation(obs.itl_ms * 1.8, obs.ttft_ms, obs.running, obs.kv_tokens, obs.rate_per_s, 1000, 200)
    after, note = update(state, wild, BASE)
    assert "rejected" in note or all(abs(a - b) <= 0.15 * abs(b) + 1e-12 for a, b in zip(after.x, before, strict=True))


def test_bounds_hold_under_persistent_garbage() -> None:
    state = initial_state(BASE)
    for k in range(200):
        obs = PerfObservation(500.0 + k, None, 10, 10_000, 1.0, 500, 100)
        state, _ = update(state, obs, BASE)
    for value, prior in zip(state.x, state.prior, strict=True):
        assert prior / 4 - 1e-9 <= value <= prior * 4 + 1e-9


def test_idle_and_invalid_windows_are_skipped() -> None:
    state = initial_state(BASE)
    same, note = update(state, PerfObservation(10.0, 50.0, 0.0, 0.0, 0.0, 100, 100), BASE)
    assert same is state and "skipped" in note
    same, note = update(state, PerfObservation(float("nan"), 50.0, 10, 1000, 1, 100, 100), BASE)
    assert same is state and "non-finite" in note


def test_prior_is_the_profile_and_state_round_trips() -> None:
    state = initial_state(BASE)
    assert state.params(BASE) == BASE
    assert state.confidence == 0
    for obs in _windows(np.array(state.prior), 5, 7):
        state, _ = update(state, obs, BASE)
    again = EstimatorState.from_dict(state.to_dict())
    assert again == state
    with pytest.raises(ValueError, match="x/prior"):
        EstimatorState.from_dict({"x": [1.0], "cov": [1.0], "prior": [1.0]})
    with pytest.raises(ValueError, match="missing or invalid"):
        EstimatorState.from_dict({"cov": []})
