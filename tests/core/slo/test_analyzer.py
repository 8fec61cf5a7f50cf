"""Analyzer `slo`: explanation, variant choice by cost per SLO capacity, safety net, holds, state round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.slo.analyzer import SloModelInput, SloModelState, SloSettings, SloVariantInput, analyze_slo
from wva_ray.core.analyzers.slo.estimator import PerfObservation
from wva_ray.core.analyzers.slo.perf_model import PerfParams

H100 = PerfParams(7.4, 0.015, 0.041, 35000, 1024, 400000, 8192)
A100 = PerfParams(11.5, 0.035, 0.067, 14600, 256, 400000, 2048)
STANDARD = ResolvedTarget("Standard", 50, 50.0, 1000.0, "test")


def _variant(
    key: str, params: PerfParams, cost: float, current: int, rate: float | None, **kw: object
) -> SloVariantInput:
    base = SloVariantInput(
        key=key,
        accelerator=key.split("-")[-1].upper(),
        cost_per_replica=cost,
        current=current,
        ready=current,
        pending=0,
        params=params,
        startup_s=90.0,
        completions_per_s=rate,
        avg_input_tokens=1155.0,
        avg_output_tokens=211.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _model(*variants: SloVariantInput) -> SloModelInput:
    return SloModelInput("llm", "llama", STANDARD, tuple(variants))


def test_scales_up_cheapest_per_capacity_and_explains() -> None:
    m = _model(_variant("llm/m-h100", H100, 1.0, 1, 40.0), _variant("llm/m-a100", A100, 0.55, 1, 0.0))
    res = analyze_slo(m, SloModelState(), SloSettings(), now_s=0.0)
    cap_h, cap_a = res.capacity_per_replica["llm/m-h100"], res.capacity_per_replica["llm/m-a100"]
    assert cap_h > cap_a > 0
    cheap = "llm/m-h100" if 1.0 / cap_h < 0.55 / cap_a else "llm/m-a100"
    assert res.targets[cheap] > 1
    supply = sum(res.targets[k] * c for k, c in res.capacity_per_replica.items())
    assert supply >= 40.0
    reason = res.reasons["llm/m-h100"]
    assert "class Standard" in reason and "ITL p95 <= 50 ms" in reason and "expected 40.00 req/s" in reason
    assert res.state.last_input_tokens == 1155.0


def test_safety_net_only_adds() -> None:
    low = _variant("llm/m-h100", H100, 1.0, 4, 1.0, saturation_target=4)
    res = analyze_slo(_model(low), SloModelState(), SloSettings(), 0.0)
    assert res.targets["llm/m-h100"] == 4  # SLO holds (first cycle never scales down), net just holds
    up = replace(low, saturation_target=6)
    res = analyze_slo(_model(up), SloModelState(), SloSettings(), 0.0)
    assert res.targets["llm/m-h100"] == 6 and "safety net" in res.reasons["llm/m-h100"]


def test_scale_down_after_delay_across_cycles() -> None:
    s = SloSettings()
    state = SloModelState()
    v = _variant("llm/m-h100", H100, 1.0, 5, 5.0)
    targets = []
    for i in range(12):
        res = analyze_slo(_model(v), state, s, now_s=30.0 * i)
        state = res.state
        targets.append(res.targets["llm/m-h100"])
    first_down = next(i for i, t in enumerate(targets) if t < 5)
    assert 30.0 * first_down >= s.sizing.down_delay_s
    assert min(targets) == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        pytest.param({"completions_per_s": None}, "no arrival-rate signal", id="no-rate"),
        pytest.param({"avg_input_tokens": None}, "no token mix", id="no-mix"),
    ],
)
def test_holds_without_signals(change: dict[str, object], why: str) -> None:
    v = replace(_variant("llm/m-h100", H100, 1.0, 3, 10.0), **change)  # type: ignore[arg-type]
    res = analyze_slo(_model(v), SloModelState(), SloSettings(), 0.0)
    assert res.targets == {"llm/m-h100": 3}
    assert why in res.reasons["llm/m-h100"]


def test_estimator_window_updates_state_and_state_round_trips() -> None:
    window = PerfObservation(
        itl_ms=20.0, ttft_ms=150.0, running=60, kv_tokens=60 * 1300, rate_per_s=10, input_tokens=1155, output_tokens=211
    )
    v = _variant("llm/m-h100", H100, 1.0, 2, 20.0, window=window)
    res = analyze_slo(_model(v), SloModelState(), SloSettings(), 0.0)
    est = res.state.estimators["H100"]
    assert est.updates == 1
    assert any("estimator: updated" in s for s in res.steps)
    assert SloModelState.from_dict(res.state.to_dict()) == res.state
    with pytest.raises(ValueError, match="slo state"):
        SloModelState.from_dict({"rate": {"levelPerS": "fast"}})
