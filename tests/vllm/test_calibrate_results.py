"""The calibration's results without an engine: the overhead and net-of-prefill fits recover what a stalling model
produces, the variants are the switches they name, and README/plot are rendered from the results dict alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wva_ray.sim.calibrate.compare import compare
from wva_ray.sim.calibrate.fit import DecodeFit, ItlSample, PrefillFit, fit_decode, net_of_prefill, request_overhead_s
from wva_ray.sim.calibrate.replay import SequenceSpec, scaled_sequence, simulate
from wva_ray.sim.calibrate.report import markdown, write_plot
from wva_ray.sim.calibrate.results import HELDOUT, VARIANTS, drift, repeat_record, spread, variant_options
from wva_ray.sim.calibrate.warmup import scaled, speed_factor, ttft_overhead
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import ReplicaModel, ReplicaOptions
from wva_ray.sim.model.traces import Trace

PROF = Profile(
    id="t/CPU", model="t", accelerator="CPU", gpus=1, alpha_ms=5.0, beta_ms=0.2, gamma_ms_per_1k_kv=0.0,
    prefill_tokens_per_s=20_000.0, kv_capacity_tokens=8192, max_num_seqs=8, max_num_batched_tokens=2048,
    startup_s=0.0, relative_cost=1.0,
)  # fmt: skip


def test_request_overhead_is_the_intercept_less_one_idle_step() -> None:
    decode = DecodeFit(5.0, 0.2, 0.0, 0.0)
    assert request_overhead_s(decode, PrefillFit(20_000.0, 205.0, 0.0)) == pytest.approx(0.2)
    assert request_overhead_s(decode, PrefillFit(20_000.0, 3.0, 0.0)) == 0.0


def _closed_loop_itl(n: int, prompt: int, output: int) -> float:
    """Median mean-ITL of a closed loop of n clients through the stalling model (what measure_decode measures)."""
    rep = ReplicaModel(PROF, options=ReplicaOptions(prefill_stall=True))
    t, k = 0.0, 0
    for _ in range(n):
        rep.submit(k, prompt, output, 0.0)
        k += 1
    itls: list[float] = []
    while t < 30.0:
        t += 0.01
        for c in rep.advance(t):
            itls.append(c.itl_s)
            rep.submit(k, prompt, output, t)
            k += 1
    return float(np.median(itls[n:]))


def test_the_net_decode_fit_recovers_the_step_of_a_stalling_model() -> None:
    samples = [
        ItlSample(float(n), n * (p + 64.0), _closed_loop_itl(n, p, 128), p, 128)
        for p in (32, 400)
        for n in (1, 2, 4, 8)
    ]
    net = fit_decode(samples, PROF.prefill_tokens_per_s)
    plain = fit_decode(samples)
    assert net.alpha_ms + 8 * net.beta_ms == pytest.approx(5.0 + 8 * 0.2, rel=0.05)
    assert plain.beta_ms > net.beta_ms  # the plain fit folds the prefill stalls into the step
    assert net_of_prefill(ItlSample(1.0, 0.0, 0.01, 400, 128), 20_000.0) == 0.01  # alone: nothing to take off


def test_variants_are_the_switches_they_name() -> None:
    assert variant_options("off", 0.2) == ReplicaOptions()
    assert variant_options("overhead", 0.2) == ReplicaOptions(request_overhead_s=0.2)
    assert variant_options("both", 0.2) == ReplicaOptions(request_overhead_s=0.2, prefill_stall=True)
    with pytest.raises(ValueError, match="unknown variant"):
        variant_options("all", 0.2)


def test_report_and_plot_are_rendered_from_the_results_dict(tmp_path: Path) -> None:
    trace = Trace(np.arange(0.0, 30.0, 0.25), np.full(120, 1600), np.full(120, 200))
    seq = scaled_sequence(trace, SequenceSpec(duration_s=30.0))
    # the "engine" is the model with a per-request overhead and stalls: after must beat before on TTFT
    real = simulate(PROF, seq, options=ReplicaOptions(request_overhead_s=0.15, prefill_stall=True))
    runs = {
        name: compare(real, simulate(PROF, seq, options=variant_options(name, 0.15)), 10.0, 30.0) for name in VARIANTS
    }
    assert runs["both"].errors["ttft_p50"] == 0.0 and runs["off"].errors["ttft_p50"] < -0.5
    fits = (DecodeFit(5.0, 0.2, 0.0, 0.0), PrefillFit(20_000.0, 150.0, 0.0))
    later = (DecodeFit(5.5, 0.2, 0.0, 0.0), PrefillFit(18_000.0, 160.0, 0.0))
    d = drift(fits, later)
    assert d["step_n1"] == pytest.approx(0.5 / 5.2) and d["prefill_rate"] == pytest.approx(-0.1)
    rec = repeat_record({"plain": PROF.model_dump(), "net": PROF.model_dump()}, 0.15, {}, d,
                        {"start": 2.0, "end": 3.5}, runs)  # fmt: skip
    result = {
        "command": "wva-ray calibrate --repeats 1",
        "sequence": {
            "trace": "synthetic",
            "start_s": 0.0,
            "duration_s": 30.0,
            "speed": 1.0,
            "requests": len(seq),
            "prompt_scale": 0.125,
            "output_scale": 0.5,
        },
        "engine": {
            "max_num_seqs": 8,
            "num_gpu_blocks": 256,
            "block_size": 32,
            "max_num_batched_tokens": 2048,
            "startup_s": 40.0,
        },
        "repeats": [json.loads(json.dumps(rec))],
    }
    result["spread"] = spread(result["repeats"])
    result["repeats"][0]["warmup"] = {"until_s": 10.0, "speed_factor": 1.25, "request_overhead_s": 0.05}
    result["repeats"][0]["heldout"] = {n: result["repeats"][0]["models"]["both"] for n in HELDOUT}
    result["spread_heldout"] = spread(result["repeats"], "heldout", HELDOUT)
    text = markdown(result)
    assert "over [10 s, end) only" in text and "(speed / overhead): 1.25 / 50 ms" in text
    assert "wva-ray calibrate --repeats 1" in text and "load average during the runs 2.0-3.5" in text
    assert "| after (overhead + stalls) | +0 % (+0 %..+0 %)" in text
    write_plot(tmp_path / "plot.png", result)
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_the_warm_up_speed_factor_recovers_a_slower_machine_and_held_out_skips_it() -> None:
    trace = Trace(np.arange(0.0, 60.0, 0.3), np.full(200, 400), np.full(200, 160))
    seq = scaled_sequence(trace, SequenceSpec(duration_s=60.0))
    slow = simulate(scaled(PROF, 2.0), seq)  # the "engine": the same model on a machine twice as slow
    factor = speed_factor(slow, seq, PROF, 20.0)
    assert factor == pytest.approx(2.0, rel=0.1)
    assert scaled(PROF, 2.0).prefill_tokens_per_s == PROF.prefill_tokens_per_s / 2
    warm = simulate(scaled(PROF, factor), seq)
    held = compare(slow, warm, 10.0, 60.0, from_s=20.0)
    assert [w.t0_s for w in held.real_windows] == [20.0, 30.0, 40.0, 50.0]
    assert abs(held.errors["itl_p50"]) < 0.1
    assert abs(compare(slow, simulate(PROF, seq), 10.0, 60.0, from_s=20.0).errors["itl_p50"]) > 0.3
    late = simulate(PROF, seq, options=ReplicaOptions(request_overhead_s=0.3))  # an engine with a 300 ms path
    assert ttft_overhead(late, simulate(PROF, seq), 20.0) == pytest.approx(0.3, abs=0.02)
