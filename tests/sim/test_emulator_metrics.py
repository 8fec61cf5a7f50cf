"""Unit tests of the emulator's scripted signals, histogram accumulators and scripted counters (no I/O)."""

from __future__ import annotations

import pytest

from wva_ray.sim.emulator.metrics import (
    HistogramAcc,
    Script,
    ServedTotals,
    Signal,
    parse_signal,
    scripted_view,
    token_buckets,
)


@pytest.mark.parametrize(
    ("text", "t_s", "expected"),
    [
        pytest.param("0.5", 123.0, 0.5, id="fixed"),
        pytest.param("ramp:0.1:0.9:10", 0.0, 0.1, id="ramp-start"),
        pytest.param("ramp:0.1:0.9:10", 5.0, 0.5, id="ramp-middle"),
        pytest.param("ramp:0.1:0.9:10", 50.0, 0.9, id="ramp-holds-end"),
        pytest.param("rampreset:0:10:10", 15.0, 5.0, id="rampreset"),
        pytest.param("square:1:7:20", 9.0, 1.0, id="square-low"),
        pytest.param("square:1:7:20", 11.0, 7.0, id="square-high"),
        pytest.param("square:1:7:20", 21.0, 1.0, id="square-again"),
        pytest.param("oscillate:0:1:8", 4.0, 1.0, id="oscillate-peak"),
        pytest.param("oscillate:0:1:8", 8.0, 0.0, id="oscillate-trough"),
    ],
)
def test_signals(text: str, t_s: float, expected: float) -> None:
    assert parse_signal(text).value(t_s) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "x", "ramp:1:2", "square:1:2:0", "wave:1:2:3"])
def test_invalid_signal_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid signal"):
        parse_signal(text)


def test_token_buckets_are_1_2_5_up_to_max_len() -> None:
    assert token_buckets(1024) == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def test_histogram_observe_and_cumulative() -> None:
    h = HistogramAcc((0.1, 1.0))
    h.observe(0.05)
    h.observe(0.5, 3)
    h.observe(7.0)
    assert h.cumulative() == [("0.1", 1), ("1.0", 4), ("+Inf", 5)]
    assert h.count == 5 and h.total == pytest.approx(0.05 + 1.5 + 7.0)
    # an observation equal to a bound falls in that bucket (le)
    h2 = HistogramAcc((1.0,))
    h2.observe(1.0)
    assert h2.cumulative() == [("1.0", 1), ("+Inf", 1)]


def test_scripted_requests_make_exact_counters() -> None:
    script = Script(request_rate_per_s=2.0, prompt_tokens=300, output_tokens=40, ttft_s=0.1, itl_s=0.02)
    base = ServedTotals()
    base.record(100, 10, 0.0, 0.2, 0.03, 0.47)
    prompt, gen, success, hist = scripted_view(base, script, t_s=10.4)
    n = 20  # floor(2.0 * 10.4)
    assert prompt == 100 + n * 300
    assert gen == 10 + n * 40
    assert success["length"] == 1 + n
    h = hist["vllm:request_prompt_tokens"]
    assert h.count == 1 + n and h.total == 100 + n * 300
    assert hist["vllm:inter_token_latency_seconds"].count == 9 + n * 39
    assert base.histograms["vllm:request_prompt_tokens"].count == 1  # the served totals are not modified


def test_signal_fixed_needs_no_period() -> None:
    assert Signal("fixed", 3.0).value(1e9) == 3.0
