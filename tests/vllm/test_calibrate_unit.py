"""Unit tests of the calibration's own logic (no engine): the fits recover known parameters, the sequence
scaling keeps arrivals and clamps lengths, and the comparison of the replica model with itself is exact."""

from __future__ import annotations

import numpy as np
import pytest

from wva_ray.sim.calibrate.compare import compare, nrmse
from wva_ray.sim.calibrate.fit import ItlSample, PrefillSample, fit_decode, fit_prefill, fitted_profile
from wva_ray.sim.calibrate.replay import SequenceSpec, scaled_sequence, simulate
from wva_ray.sim.model.traces import Trace


def test_decode_fit_recovers_a_linear_step_model() -> None:
    samples = [
        ItlSample(n, kv, (5.0 + 0.4 * n + 0.2 * kv / 1000.0) / 1000.0)
        for n in (1, 2, 4, 8)
        for kv in (100.0 * n, 500.0 * n)
    ]
    fit = fit_decode(samples)
    assert (fit.alpha_ms, fit.beta_ms, fit.gamma_ms_per_1k_kv) == pytest.approx((5.0, 0.4, 0.2), abs=1e-6)


def test_prefill_fit_is_the_inverse_slope() -> None:
    samples = [PrefillSample(p, 0.010 + p / 20000.0) for p in (16, 256, 512, 900)]
    fit = fit_prefill(samples)
    assert fit.prefill_tokens_per_s == pytest.approx(20000.0, rel=1e-6)
    assert fit.intercept_ms == pytest.approx(10.0, abs=1e-6)


def test_fits_need_enough_points() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        fit_decode([ItlSample(1, 0, 0.01)])
    with pytest.raises(ValueError, match="2 distinct prompt lengths"):
        fit_prefill([PrefillSample(16, 0.01), PrefillSample(16, 0.02)])


def test_scaled_sequence_keeps_arrivals_and_clamps_lengths() -> None:
    trace = Trace(np.array([0.0, 1.0, 3.0, 9.0]), np.array([8000, 80, 800, 10]), np.array([1000, 2, 100, 50]))
    seq = scaled_sequence(trace, SequenceSpec(start_s=1.0, duration_s=4.0, speed=2.0, max_prompt=600, max_output=256))
    assert [r.at_s for r in seq] == [0.0, 1.0]  # trace seconds 1 and 3, re-based and compressed x2
    assert [(r.prompt_tokens, r.output_tokens) for r in seq] == [(10, 4), (100, 50)]


def test_the_model_compared_with_itself_has_no_error() -> None:
    profile = fitted_profile(
        "t/CPU", "t", fit_decode([ItlSample(n, 100 * n, (5 + n) / 1000) for n in (1, 2, 4)]),
        fit_prefill([PrefillSample(p, p / 10000) for p in (10, 100)]),
        kv_capacity_tokens=8192, max_num_seqs=8, max_num_batched_tokens=2048, block_size=32, startup_s=40.0,
    )  # fmt: skip
    trace = Trace(np.arange(0.0, 30.0, 0.2), np.full(150, 800), np.full(150, 128))
    seq = scaled_sequence(trace, SequenceSpec(duration_s=30.0))
    run = simulate(profile, seq)
    cmp = compare(run, run, 10.0, 30.0)
    assert all(v == 0.0 for k, v in cmp.errors.items()), cmp.errors
    assert len(cmp.real_windows) == 3 and sum(w.completions for w in cmp.real_windows) > 0
    assert nrmse([1.0, 3.0], [2.0, 2.0]) == pytest.approx(0.5)
