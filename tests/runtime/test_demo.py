"""The demo: trace resolution, request building, report maths (unit) and short real runs (integration)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from wva_ray.demo.report import RunInfo, scaling_actions, summarize
from wva_ray.demo.runner import (
    DEFAULT_TRACE,
    DEMO_MODELS,
    ENVELOPE_MAX,
    ENVELOPE_MIN,
    DemoOptions,
    build_requests,
    envelope,
    resolve_trace,
    run_demo,
)
from wva_ray.sim.model.traces import Trace


def test_resolve_trace_by_name_and_clear_error(shared_dir: Path, tmp_path: Path) -> None:
    assert resolve_trace(DEFAULT_TRACE, shared_dir).name == f"{DEFAULT_TRACE}.jsonl"
    assert resolve_trace("azure_llm_2023_conv", shared_dir).suffix == ".csv"
    with pytest.raises(FileNotFoundError, match="known traces: azure_llm_2023_code"):
        resolve_trace("nope", shared_dir)
    with pytest.raises(FileNotFoundError, match=r"trace folder .*missing.* not found"):
        resolve_trace(DEFAULT_TRACE, tmp_path / "missing")


def test_envelope_rises_and_falls_within_bounds() -> None:
    values = [envelope(f / 100) for f in range(101)]
    assert min(values) == pytest.approx(ENVELOPE_MIN)
    assert max(values) == pytest.approx(ENVELOPE_MAX)
    assert values[50] == pytest.approx(ENVELOPE_MAX)


def _uniform_trace(rate: float, span_s: float, prompt: int = 10_000) -> Trace:
    n = int(rate * span_s)
    return Trace(np.linspace(0, span_s, n, endpoint=False), np.full(n, prompt), np.full(n, 100))


def test_build_requests_compresses_thins_and_hits_the_target_load() -> None:
    opts = DemoOptions(duration_s=100, speed=10)
    trace = _uniform_trace(rate=20.0, span_s=1000.0)
    reqs = build_requests(trace, opts)
    assert reqs == sorted(reqs, key=lambda r: r.at_s)
    assert all(0 <= r.at_s < opts.duration_s for r in reqs)
    mean_env = float(np.mean([envelope(f / 1000) for f in range(1000)]))
    for model, (_, target_prefill) in DEMO_MODELS.items():
        prefill = sum(r.prompt_tokens for r in reqs if r.model_id == model) / opts.duration_s
        assert prefill == pytest.approx(target_prefill * mean_env, rel=0.2), model


def test_scaling_actions_count_changes_not_first_publish() -> None:
    writes = [
        {"key": "d/a", "desired": 1},
        {"key": "d/a", "desired": 1},
        {"key": "d/a", "desired": 3},
        {"key": "d/b", "desired": 2},
        {"key": "d/a", "desired": 2},
    ]
    assert scaling_actions(writes) == {"total": 2, "up": 1, "down": 1, "per_variant": {"a": {"up": 1, "down": 1}}}


def test_summary_slo_and_gpu_hours() -> None:
    rec = {"model_id": "m", "variant": "v", "wait_s": 0.0, "e2e_s": 1.0}
    data = {
        "records": [
            {**rec, "ok": True, "ttft_s": 0.5, "itl_s": 0.05},
            {**rec, "ok": True, "ttft_s": 5.0, "itl_s": 0.05},
            {**rec, "ok": False, "ttft_s": 0.0, "itl_s": 0.0},
            {**rec, "ok": True, "ttft_s": 0.5, "itl_s": 0.5},
        ],
        "gpu_seconds": {"v": 300.0},
        "samples": {"v": [{"current": 2, "desired": 3}]},
        "writes": [],
        "status_writes": 0,
    }
    s = summarize(data, RunInfo("no-ray", "t", 12.0, 100.0, 2.5, 2, 40, 5))
    assert s["slo"]["attainment"] == 0.25
    assert s["gpu_hours"]["total"] == pytest.approx(1.0)  # 300 wall s x 12 = 1 trace hour
    assert s["requests"] == {"sent": 5, "completed": 3, "failed": 1, "unfinished": 1}
    assert s["final_replicas"] == {"v": {"current": 2, "desired": 3}}


def _check_outputs(out: Path, summary: dict[str, object]) -> None:
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert (out / "demo.png").stat().st_size > 10_000
    assert on_disk["cycles"] >= 2
    assert on_disk["requests"]["completed"] > 0
    assert set(on_disk["final_replicas"]) == {
        "llama-3-1-8b-h100",
        "llama-3-1-8b-a100",
        "llama-3-1-8b-l40s",
        "llama-3-1-70b-h100",
        "llama-3-1-70b-a100",
    }


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_demo_smoke_no_ray(tmp_path: Path, shared_dir: Path) -> None:
    out = tmp_path / "demo"
    opts = DemoOptions(duration_s=10, output=out, use_ray=False, live=False, shared_dir=shared_dir)
    _check_outputs(out, run_demo(opts, Console(quiet=True)))


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_demo_smoke_with_ray(tmp_path: Path, shared_dir: Path, ray_session: None) -> None:
    out = tmp_path / "demo"
    opts = DemoOptions(duration_s=10, output=out, use_ray=True, live=False, shared_dir=shared_dir)
    summary = run_demo(opts, Console(quiet=True))
    assert summary["mode"] == "ray"
    _check_outputs(out, summary)
