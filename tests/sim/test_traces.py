"""Trace loaders on the real files in ../shared/data/traces, transforms, and the synthetic generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, load_trace, merge, rate_multiplied, synthesize


@pytest.mark.parametrize(
    ("name", "rows", "span_s", "mean_in", "mean_out"),
    [
        pytest.param("azure_llm_2023_code.csv", 8819, 3436, 2048, 27.9, id="azure-code-crlf"),
        pytest.param("azure_llm_2023_conv.csv", 19366, 3502, 1155, 211, id="azure-conv-crlf"),
        pytest.param("mooncake_fast25_conversation.jsonl", 12031, 3537, 12035, 343, id="mooncake-conv"),
        pytest.param("mooncake_fast25_synthetic.jsonl", 3993, 1022, 15326, 149, id="mooncake-synth"),
    ],
)
def test_real_traces_match_their_readme(
    shared_dir: Path, name: str, rows: int, span_s: float, mean_in: float, mean_out: float
) -> None:
    trace = load_trace(shared_dir / "data" / "traces" / name)
    assert len(trace) == rows
    assert trace.duration_s == pytest.approx(span_s, abs=1.0)
    assert float(trace.prompt_tokens.mean()) == pytest.approx(mean_in, rel=0.01)
    assert float(trace.output_tokens.mean()) == pytest.approx(mean_out, rel=0.02)
    assert trace.arrival_s[0] == 0.0 and bool(np.all(np.diff(trace.arrival_s) >= 0))


def test_azure_code_ten_second_peak(shared_dir: Path) -> None:
    trace = load_trace(shared_dir / "data" / "traces" / "azure_llm_2023_code.csv")
    assert trace.rate_per_bin(10.0).max() == pytest.approx(32.7, abs=0.05)


def test_rate_multiplied_keeps_span_and_scales_count(shared_dir: Path) -> None:
    trace = load_trace(shared_dir / "data" / "traces" / "azure_llm_2023_conv.csv")
    x10 = rate_multiplied(trace, 10, seed=3)
    assert len(x10) == 10 * len(trace)
    assert x10.duration_s <= trace.duration_s + 1e-6
    half = rate_multiplied(trace, 0.5, seed=3)
    assert len(half) == pytest.approx(0.5 * len(trace), rel=0.05)


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.txt"):
        load_trace(tmp_path / "x.txt")


def test_synthetic_step_follows_the_shape() -> None:
    shape = RateShape(points=[(0, 5), (600, 5), (600.5, 90), (1200, 90)])
    trace = synthesize(shape, 1200, TOKEN_PRESETS["azure-conv"], seed=7)
    per_min = trace.rate_per_bin(60.0, 1200)
    assert per_min[:9].mean() == pytest.approx(5, rel=0.15)
    assert per_min[11:].mean() == pytest.approx(90, rel=0.05)
    assert float(np.median(np.log(trace.prompt_tokens))) == pytest.approx(6.63, abs=0.1)


def test_gamma_arrivals_have_the_requested_cv() -> None:
    shape = RateShape(points=[(0, 20), (4000, 20)])
    trace = synthesize(shape, 4000, TOKEN_PRESETS["azure-code"], arrivals="gamma", cv=3.0, seed=1)
    gaps = np.diff(trace.arrival_s)
    assert len(trace) == pytest.approx(80000, rel=0.1)
    assert float(gaps.std() / gaps.mean()) == pytest.approx(3.0, rel=0.15)


def test_diurnal_peak_at_the_requested_hour() -> None:
    shape = RateShape(diurnal={"start_hour": 0, "base": 5, "amp": 50, "peak_hour": 19, "sigma_h": 2})
    hours = np.arange(24) * 3600.0
    rates = shape.rates(hours)
    assert int(np.argmax(rates)) == 19
    assert rates[19] == pytest.approx(55)


def test_merge_sorts_and_keeps_everything() -> None:
    shape = RateShape(points=[(0, 2), (100, 2)])
    a = synthesize(shape, 100, TOKEN_PRESETS["azure-conv"], seed=1)
    b = synthesize(shape, 100, TOKEN_PRESETS["azure-code"], seed=2)
    m = merge([a, b])
    assert len(m) == len(a) + len(b)
    assert bool(np.all(np.diff(m.arrival_s) >= 0))
