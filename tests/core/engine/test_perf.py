"""The performance learner recovers a replica's parameters from vLLM-style windows, from any reasonable prior."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from wva_ray.core.analyzers.learned import perf
from wva_ray.core.analyzers.slo.perf_model import PerfParams

TRUTH = PerfParams(7.4, 0.015, 0.041, 35_000.0, 1024, 400_000, 8192)


def windows(truth: PerfParams, n: int, seed: int = 7) -> list[perf.PerfWindow]:
    """Windows a replica with these parameters would report (the simulator's rules, 5 % measurement noise)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rate = rng.uniform(0.5, 12.0)  # req/s on this pod
        prompt = rng.uniform(200, 3000)
        batch = rate * rng.uniform(2, 15)
        kv = batch * (prompt + 150)
        rho = rate * prompt / truth.prefill_tokens_per_s
        d = truth.iteration_ms(batch, kv)
        itl = d / (1 - rho) * rng.gauss(1, 0.05)
        own = prompt / truth.prefill_tokens_per_s
        wait = rate * 2 * own * own / (2 * (1 - rate * own))
        prefill_ms = (own + wait) * 1000 * rng.gauss(1, 0.05) + d
        out.append(perf.PerfWindow(60.0, itl, 3000.0, batch, kv, rate * prompt, prefill_ms, rate * 60, prompt))
    return out


def learn(prior: PerfParams, n: int, rel_std: float = perf.PROFILE_REL_STD) -> perf.PerfLearnerState:
    s = perf.initial_state(prior, rel_std, "test")
    for w in windows(TRUTH, n):
        s, _ = perf.update(s, w)
    return s


@pytest.mark.parametrize("error", [-0.25, 0.0, 0.25])
def test_within_ten_percent_of_the_truth_from_a_wrong_prior(error: float) -> None:
    prior = replace(
        TRUTH,
        alpha_ms=TRUTH.alpha_ms * (1 + error),
        beta_ms=TRUTH.beta_ms * (1 - error),
        gamma_ms_per_1k_kv=TRUTH.gamma_ms_per_1k_kv * (1 + error),
        prefill_tokens_per_s=TRUTH.prefill_tokens_per_s * (1 - error),
    )
    got = learn(prior, 40).params(TRUTH)  # 40 pod windows = 10 min of a 4-replica variant
    assert got.prefill_tokens_per_s == pytest.approx(TRUTH.prefill_tokens_per_s, rel=0.10)
    for batch in (8.0, 64.0, 256.0):  # the step it predicts where sizing reads it
        kv = batch * 1500
        assert got.iteration_ms(batch, kv) == pytest.approx(TRUTH.iteration_ms(batch, kv), rel=0.10)


def test_from_the_conservative_default() -> None:
    got = learn(perf.DEFAULT_PARAMS, 80, perf.DEFAULT_REL_STD).params(TRUTH)
    assert got.alpha_ms == pytest.approx(TRUTH.alpha_ms, rel=0.10)
    assert got.prefill_tokens_per_s == pytest.approx(TRUTH.prefill_tokens_per_s, rel=0.10)


def test_uncertainty_shrinks_and_pessimism_with_it() -> None:
    few, many = learn(perf.DEFAULT_PARAMS, 3, 1.0), learn(perf.DEFAULT_PARAMS, 80, 1.0)
    u_few, u_many = perf.uncertainty(few), perf.uncertainty(many)
    assert u_many.alpha_ms[1] < u_few.alpha_ms[1] and u_many.samples > u_few.samples
    p_few = perf.pessimistic(few, TRUTH, 50.0, 75_000.0, 1.0)
    p_many = perf.pessimistic(many, TRUTH, 50.0, 75_000.0, 1.0)
    m_few, m_many = few.params(TRUTH), many.params(TRUTH)
    ratio_few = p_few.iteration_ms(50, 75_000) / m_few.iteration_ms(50, 75_000)
    ratio_many = p_many.iteration_ms(50, 75_000) / m_many.iteration_ms(50, 75_000)
    assert ratio_few > ratio_many >= 1.0
    assert "alpha" in u_many.describe() and "windows" in u_many.describe()


def test_idle_windows_teach_nothing() -> None:
    s = perf.initial_state(TRUTH, 0.25, "test")
    idle = perf.PerfWindow(60.0, None, 0.0, 0.0, 0.0, 0.0, None, 0.0, None)
    out, note = perf.update(s, idle)
    assert out == s and note == "nothing to learn from"


def test_round_trip() -> None:
    s = learn(TRUTH, 5)
    assert perf.PerfLearnerState.from_dict(s.to_dict()) == s
