"""The demo runner: trace resolution, request building (unit) and short real runs, side by side or alone
(integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

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


VARIANTS = {"llama-3-1-8b-h100", "llama-3-1-8b-a100", "llama-3-1-8b-l40s", "llama-3-1-70b-h100", "llama-3-1-70b-a100"}


def _check_outputs(out: Path, summary: dict[str, Any], labels: list[str]) -> None:
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert (out / "demo.png").stat().st_size > 10_000
    assert list(summary["runs"]) == labels
    sent = on_disk["requests_sent"]
    assert sent > 0
    for label, run in on_disk["runs"].items():
        req = run["requests"]
        assert run["cycles"] >= 2, label
        assert req["completed"] + req["failed"] <= sent, label
        assert 0 <= req["unfinished_past_slo"] <= req["unfinished"], label
        assert run["slo"]["attainment"] is None or 0.0 <= run["slo"]["attainment"] <= 1.0, label
        assert run["gpu_hours"]["total"] > 0, label
        assert set(run["final_replicas"]) == VARIANTS, label
    assert sum(run["requests"]["completed"] for run in on_disk["runs"].values()) > 0
    if len(labels) > 1:
        cmp = on_disk["comparison"]
        assert (cmp["baseline"], cmp["candidate"]) == (labels[0], labels[-1])
        assert set(cmp["gpu_hours"]) == set(labels)
    else:
        assert on_disk["comparison"] is None


@pytest.mark.integration
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("compare", "labels"),
    [
        pytest.param(True, ["upstream", "wva-ray"], id="side-by-side"),
        pytest.param(False, ["wva-ray"], id="wva-ray-alone"),
    ],
)
def test_demo_no_ray(tmp_path: Path, shared_dir: Path, compare: bool, labels: list[str]) -> None:
    out = tmp_path / "demo"
    opts = DemoOptions(duration_s=8, output=out, use_ray=False, live=False, shared_dir=shared_dir, compare=compare)
    _check_outputs(out, run_demo(opts, Console(quiet=True)), labels)


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_demo_with_ray_compares_by_default(tmp_path: Path, shared_dir: Path, ray_session: None) -> None:
    """What `make demo` runs: both rules side by side, each with its own named coordinator and shards."""
    out = tmp_path / "demo"
    opts = DemoOptions(duration_s=10, output=out, use_ray=True, live=False, shared_dir=shared_dir)
    summary = run_demo(opts, Console(quiet=True))
    assert summary["mode"] == "ray"
    _check_outputs(out, summary, ["upstream", "wva-ray"])
