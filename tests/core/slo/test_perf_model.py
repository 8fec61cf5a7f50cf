"""Replica performance model and SLO capacity: worked examples (the profile README's capacity table) and
properties (monotone in rate, in targets and in parameters; rate* meets the targets and a bit more does not)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wva_ray.core.analyzers.slo.capacity import max_rate, max_rate_or_fallback
from wva_ray.core.analyzers.slo.perf_model import LatencyTargets, PerfParams, ReplicaPerfModel, TokenMix, admission_cap

# Profile rows of ../shared/data/profiles/README.md. `max_num_batched_tokens` is set huge here so that the
# prefill rate is the table's (the README's fluid numbers ignore the decode share of a chunked step).
NO_CHUNK = 10**9
H100_8B = PerfParams(7.4, 0.015, 0.041, 35000, 1024, 400000, NO_CHUNK)
A100_8B = PerfParams(11.5, 0.035, 0.067, 14600, 256, 400000, NO_CHUNK)
L40S_8B = PerfParams(28.8, 0.040, 0.158, 13000, 256, 190000, NO_CHUNK)
H100_70B = PerfParams(19.4, 0.035, 0.022, 12000, 1024, 410000, NO_CHUNK)
CONV = TokenMix(1155, 211, input_cv=1.0, output_cv=0.0)
CODE = TokenMix(2048, 28, input_cv=1.0, output_cv=0.0)
STRICT, STANDARD, RELAXED = (25.0, 500.0), (50.0, 1000.0), (120.0, 2000.0)


def _mean_targets(slo: tuple[float, float]) -> LatencyTargets:
    return LatencyTargets(itl_ms=slo[0], ttft_ms=slo[1], ttft_quantile=0.5, itl_quantile=0.5)


@pytest.mark.parametrize(
    ("params", "mix", "slo", "table_rate"),
    [
        pytest.param(H100_8B, CONV, STRICT, 15.0, id="8b-h100-conv-strict"),
        pytest.param(H100_8B, CONV, STANDARD, 18.1, id="8b-h100-conv-standard"),
        pytest.param(H100_8B, CONV, RELAXED, 19.1, id="8b-h100-conv-relaxed"),
        pytest.param(H100_8B, CODE, STRICT, 11.5, id="8b-h100-code-strict"),
        pytest.param(H100_8B, CODE, STANDARD, 13.9, id="8b-h100-code-standard"),
        pytest.param(H100_8B, CODE, RELAXED, 15.3, id="8b-h100-code-relaxed"),
        pytest.param(A100_8B, CONV, STRICT, 5.2, id="8b-a100-conv-strict"),
        pytest.param(A100_8B, CONV, STANDARD, 7.4, id="8b-a100-conv-standard"),
        pytest.param(A100_8B, CONV, RELAXED, 8.7, id="8b-a100-conv-relaxed"),
        pytest.param(A100_8B, CODE, STANDARD, 5.3, id="8b-a100-code-standard"),
        pytest.param(L40S_8B, CONV, STANDARD, 3.0, id="8b-l40s-conv-standard"),
        pytest.param(L40S_8B, CONV, RELAXED, 5.4, id="8b-l40s-conv-relaxed"),
        pytest.param(L40S_8B, CODE, RELAXED, 4.5, id="8b-l40s-code-relaxed"),
        pytest.param(H100_70B, CONV, STRICT, 2.0, id="70b-h100-conv-strict"),
        pytest.param(H100_70B, CONV, STANDARD, 5.6, id="70b-h100-conv-standard"),
        pytest.param(H100_70B, CONV, RELAXED, 7.7, id="70b-h100-conv-relaxed"),
    ],
)
def test_mean_capacity_matches_profile_table(
    params: PerfParams, mix: TokenMix, slo: tuple[float, float], table_rate: float
) -> None:
    lim = max_rate(ReplicaPerfModel(params, mix), _mean_targets(slo))
    assert lim.rate_per_s == pytest.approx(table_rate, rel=0.07)


@pytest.mark.parametrize(
    ("params", "mix"), [pytest.param(L40S_8B, CONV, id="l40s-conv"), pytest.param(L40S_8B, CODE, id="l40s-code")]
)
def test_strict_class_is_infeasible_on_l40s(params: PerfParams, mix: TokenMix) -> None:
    # alpha 28.8 ms > ITL target 25 ms: no rate meets it (the table's "-").
    lim = max_rate(ReplicaPerfModel(params, mix), _mean_targets(STRICT))
    assert lim.rate_per_s == 0 and lim.binding == "infeasible" and not lim.meets_targets
    fallback, note = max_rate_or_fallback(ReplicaPerfModel(params, mix), _mean_targets(STRICT))
    assert fallback.rate_per_s > 0 and "unreachable" in note and not fallback.meets_targets


@pytest.mark.parametrize(
    ("params", "mix", "slo", "note_part", "meets"),
    [
        pytest.param(H100_8B, CONV, STANDARD, "", True, id="met at the class quantiles"),
        pytest.param(L40S_8B, CONV, (50.0, 250.0), "median", False, id="median fallback: does not meet"),
        pytest.param(L40S_8B, CONV, STRICT, "hard limit", False, id="hard-limit fallback: does not meet"),
    ],
)
def test_the_fallback_says_the_targets_are_not_met(
    params: PerfParams, mix: TokenMix, slo: tuple[float, float], note_part: str, meets: bool
) -> None:
    lim, note = max_rate_or_fallback(ReplicaPerfModel(params, mix), LatencyTargets(*slo))
    assert lim.rate_per_s > 0 and lim.meets_targets is meets
    assert note_part in note and (note == "") is meets


def test_itl_at_low_load_is_one_decode_step() -> None:
    lat = ReplicaPerfModel(H100_8B, CONV).latency(1e-4, LatencyTargets(50, 1000))
    assert lat.itl_mean_ms == pytest.approx(H100_8B.iteration_ms(1, CONV.kv_per_request), rel=0.01)
    assert lat.ttft_mean_ms == pytest.approx(H100_8B.prefill_ms(1155) + lat.itl_mean_ms, rel=0.01)


def test_admission_cap_is_kv_or_max_num_seqs() -> None:
    assert admission_cap(H100_8B, TokenMix(100, 100, output_cv=0.0)) == 1024
    assert admission_cap(H100_8B, TokenMix(12000, 400, output_cv=0.0)) == math.floor(0.9 * 400000 / 12200)


def test_long_output_mix_is_length_biased() -> None:
    assert TokenMix(1000, 200, output_cv=1.0).kv_per_request == 1200
    assert TokenMix(1000, 200, output_cv=0.0).kv_per_request == 1100


def test_inputs_are_validated_with_names() -> None:
    with pytest.raises(ValueError, match="alpha_ms"):
        PerfParams(0.0, 0.01, 0.01, 1000)
    with pytest.raises(ValueError, match="output_tokens"):
        TokenMix(100, 0.5)
    with pytest.raises(ValueError, match="ttft_quantile"):
        LatencyTargets(50, 1000, ttft_quantile=1.0)
    with pytest.raises(ValueError, match="rate"):
        ReplicaPerfModel(H100_8B, CONV).latency(-1.0, LatencyTargets(50, 1000))


params_st = st.builds(
    PerfParams,
    alpha_ms=st.floats(3.0, 40.0),
    beta_ms=st.floats(0.0, 0.1),
    gamma_ms_per_1k_kv=st.floats(0.0, 0.2),
    prefill_tokens_per_s=st.floats(3000.0, 40000.0),
    max_num_seqs=st.sampled_from([256, 1024]),
    kv_capacity_tokens=st.floats(1e5, 5e5),
    max_num_batched_tokens=st.sampled_from([2048, 8192]),
)
mix_st = st.builds(
    TokenMix,
    input_tokens=st.floats(50.0, 4000.0),
    output_tokens=st.floats(5.0, 600.0),
    input_cv=st.floats(0.0, 2.0),
    output_cv=st.floats(0.0, 1.5),
)


@settings(max_examples=40, deadline=None)
@given(params=params_st, mix=mix_st, lo=st.floats(0.05, 0.9), gap=st.floats(1.01, 1.5))
def test_latency_grows_with_rate(params: PerfParams, mix: TokenMix, lo: float, gap: float) -> None:
    model = ReplicaPerfModel(params, mix)
    hard = min(model.prefill_capacity_per_s(), model.decode_capacity_per_s())
    t = LatencyTargets(50, 1000)
    a, b = model.latency(lo * hard, t), model.latency(min(lo * gap, 0.99) * hard, t)
    if not b.stable:
        return
    assert a.stable
    assert b.itl_mean_ms >= a.itl_mean_ms * (1 - 1e-9)
    assert b.ttft_q_ms >= a.ttft_q_ms * (1 - 1e-9)
    assert b.itl_q_ms >= a.itl_q_ms * (1 - 1e-9)
    assert b.itl_q_ms >= b.itl_mean_ms * (1 - 1e-9)


@settings(max_examples=30, deadline=None)
@given(params=params_st, mix=mix_st, itl=st.floats(20.0, 200.0), ttft=st.floats(300.0, 5000.0))
def test_rate_star_meets_targets_and_a_bit_more_does_not(
    params: PerfParams, mix: TokenMix, itl: float, ttft: float
) -> None:
    model = ReplicaPerfModel(params, mix)
    t = LatencyTargets(itl, ttft)
    lim = max_rate(model, t)
    if lim.binding in ("infeasible", "capacity"):
        return
    assert lim.at.itl_q_ms <= itl and lim.at.ttft_q_ms <= ttft
    over = model.latency(lim.rate_per_s * 1.02, t)
    assert not over.stable or over.itl_q_ms > itl or over.ttft_q_ms > ttft


@settings(max_examples=30, deadline=None)
@given(params=params_st, mix=mix_st, itl=st.floats(20.0, 200.0), ttft=st.floats(300.0, 5000.0))
def test_rate_star_is_monotone_in_targets_and_speed(params: PerfParams, mix: TokenMix, itl: float, ttft: float) -> None:
    base = max_rate(ReplicaPerfModel(params, mix), LatencyTargets(itl, ttft)).rate_per_s
    looser = max_rate(ReplicaPerfModel(params, mix), LatencyTargets(itl * 1.3, ttft * 1.3)).rate_per_s
    slower = PerfParams(
        params.alpha_ms * 1.2,
        params.beta_ms,
        params.gamma_ms_per_1k_kv,
        params.prefill_tokens_per_s,
        params.max_num_seqs,
        params.kv_capacity_tokens,
        params.max_num_batched_tokens,
    )
    slow = max_rate(ReplicaPerfModel(slower, mix), LatencyTargets(itl, ttft)).rate_per_s
    tol = 1.011  # two bisections of relative precision 0.5 %
    assert looser * tol >= base
    assert slow <= base * tol
