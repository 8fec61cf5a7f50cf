"""Bench smoke test: a tiny scenario through `run_bench` and the CLI registration; results.json shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wva_ray.cli.bench import register
from wva_ray.sim.bench.suite import BenchArgs, run_bench

TINY = """
name: T1-tiny
description: tiny smoke scenario
duration_s: 300
seeds: [1]
oracle_interval_s: 10
step: {model: m, at_s: 100, to_rps: 20}
models:
  - name: m
    workload:
      synthetic:
        tokens: azure-conv
        shape: {points: [[0, 4], [100, 4], [100.5, 20], [300, 20]]}
    variants:
      - {name: m-h100, profile: llama-3.1-8b/H100, startup_s: 30, min_replicas: 1, max_replicas: 4, initial_replicas: 1}
policies: [wva-ray, hpa-kv, static-peak]
"""


def _scenarios(tmp_path: Path) -> Path:
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "t1.yaml").write_text(TINY, encoding="utf-8")
    return d


def test_run_bench_writes_results_table_and_plots(tmp_path: Path, shared_dir: Path) -> None:
    out = tmp_path / "out"
    args = BenchArgs(quick=True, output=out, policies=("wva-ray", "hpa-kv", "static-peak"))
    path = run_bench(
        args,
        scenarios_dir=_scenarios(tmp_path),
        traces_dir=shared_dir / "data" / "traces",
        curve_cache=None,
        capacity_cache=None,
    )
    doc = json.loads(path.read_text(encoding="utf-8"))
    scn = doc["scenarios"]["T1-tiny"]
    policies = scn["policies"]
    assert set(policies) == {"wva-ray", "hpa-kv", "static-peak"}
    for row in policies.values():
        assert row["gpu_hours"] > 0 and 0.0 <= row["slo_attainment"] <= 1.0
        assert "slo_attainment_m" in row and "gpu_hours_vs_matched_oracle" in row
    bounds = scn["bounds"]
    for t in ("0.90", "0.95", "0.99"):
        assert f"oracle_gpu_hours_at_{t}" in bounds and f"causal_gpu_hours_at_{t}" in bounds
    assert bounds["causal_max_attainment"] <= bounds["oracle_max_attainment"] + 1e-9
    assert scn["oracle_violations"] == []  # nobody beats the lower bound
    assert doc["commit"] and doc["default_policy"] == "wva-ray"
    assert "--policy wva-ray --policy hpa-kv --policy static-peak" in doc["command"]
    assert (out / "results.md").read_text(encoding="utf-8").count("| wva-ray |") == 1
    assert (out / "T1-tiny-replicas.png").stat().st_size > 0
    assert (out / "T1-tiny-cost-vs-attainment.png").stat().st_size > 0


def test_cli_registration_exposes_bench(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command so typer keeps sub-command routing
        pass

    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output and "--scenario" in result.output and "--output" in result.output


def test_unknown_scenario_names_the_known_ones(tmp_path: Path, shared_dir: Path) -> None:
    with pytest.raises(ValueError, match="T1-tiny"):
        run_bench(BenchArgs(True, "nope", tmp_path / "o"), scenarios_dir=_scenarios(tmp_path), capacity_cache=None)


def test_scenario_may_be_a_path_and_seeds_override(tmp_path: Path, shared_dir: Path) -> None:
    path = _scenarios(tmp_path) / "t1.yaml"
    args = BenchArgs(True, str(path), tmp_path / "o", policies=("static-peak",), seeds=(7,))
    doc = json.loads(
        run_bench(args, traces_dir=shared_dir / "data" / "traces", curve_cache=None, capacity_cache=None).read_text(
            encoding="utf-8"
        )
    )
    assert doc["scenarios"]["T1-tiny"]["seeds"] == [7]
    assert f"--scenario {path}" in doc["command"] and "--seeds 7" in doc["command"]


def test_control_plane_times_decide_for_each_size() -> None:
    from wva_ray.sim.control_plane import run_control_plane, synthetic_snapshot

    snap = synthetic_snapshot(10)
    assert len(snap.variant_autoscalings) == 10 and len(snap.pods) == 20
    out = run_control_plane([10, 20], repeats=3)
    assert set(out["sizes"]) == {"10", "20"}
    assert all(0 < row["p50_ms"] <= row["max_ms"] for row in out["sizes"].values())
