"""`wva-ray demo --engine vllm`: without the engine environment it fails at once, names the setup step and starts
nothing; its load is the calibration's scaled trace shaped by the demo's envelope; and (marked `vllm`) a short
real run scales a real engine fleet up and leaves nothing running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wva_ray.cli import app
from wva_ray.demo.runner import repo_shared_dir
from wva_ray.demo.vllm_demo import VllmDemoOptions, demo_requests
from wva_ray.testing.vllm_engine import _LIVE, SETUP_STEP, VllmEngine, VllmFleet

TRACE = repo_shared_dir() / "data" / "traces" / "azure_llm_2023_conv.csv"


def test_missing_engine_env_names_the_setup_step_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WVA_RAY_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "demo-out"
    live_before = set(_LIVE)  # the session's shared engine may be up already when this runs after other vllm tests
    res = CliRunner().invoke(app, ["demo", "--engine", "vllm", "--no-live", "--output", str(out)])
    assert res.exit_code == 2, res.output
    assert SETUP_STEP in res.output.replace("\n", "")
    assert not out.exists() and set(_LIVE) == live_before  # failed before any engine or file


def test_unknown_engine_is_refused() -> None:
    res = CliRunner().invoke(app, ["demo", "--engine", "tpu", "--no-live"])
    assert res.exit_code == 2 and "--engine must be one of emulator, vllm" in res.output


def test_the_load_rises_and_falls_with_the_envelope() -> None:
    reqs = demo_requests(VllmDemoOptions(duration_s=90.0, speed=2.0), TRACE)
    per_third = [sum(1 for at, _, _ in reqs if k * 30.0 <= at < (k + 1) * 30.0) for k in range(3)]
    assert per_third[1] > 1.5 * per_third[0] and per_third[1] > 1.5 * per_third[2], per_third
    assert all(8 <= p <= 600 and 4 <= o <= 256 for _, p, o in reqs)  # the tiny model's scaled lengths


@pytest.mark.vllm
@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_short_real_demo_scales_up_and_stops_its_engine(
    tmp_path: Path, fleet: VllmFleet, warm_engine: VllmEngine
) -> None:
    """On the session's warm engine (one engine start fewer); the scale-up starts a real second engine."""
    from wva_ray.demo.vllm_demo import run_vllm_demo

    options = VllmDemoOptions(
        duration_s=60.0, output=tmp_path, trace=str(TRACE), speed=2.0, cooldown_s=90.0, live=False
    )
    summary = run_vllm_demo(options, fleet=fleet, warm=warm_engine)
    print(json.dumps({k: v for k, v in summary.items() if k != "timeline"}, indent=1))
    assert summary["requests"]["completed"] > 100
    # the controller scaled up and a real second engine was started (whether it got ready before the load ended
    # depends on this machine's start-up time, 40-150 s: reported, not asserted)
    assert summary["scaling"]["up"] >= 1 and summary["scaling"]["max_pods"] == 2
    assert (tmp_path / "demo.png").is_file() and (tmp_path / "summary.json").is_file()
    assert fleet.engines == [warm_engine] and not (_LIVE - {warm_engine}), "the demo's own engine was left running"
