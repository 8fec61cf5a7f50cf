"""`wva-ray loadgen` (registered on a bare typer app) against an emulated pod in a background thread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wva_ray.cli import loadgen as loadgen_cli
from wva_ray.sim.emulator.server import PodSpec
from wva_ray.sim.emulator.thread import EmulatorThread

pytestmark = pytest.mark.timeout(60)


def _app() -> typer.Typer:
    app = typer.Typer()
    loadgen_cli.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer in multi-command mode
        return

    return app


def test_loadgen_cli_synthetic_against_an_emulated_pod(tmp_path: Path) -> None:
    with EmulatorThread() as emu:
        pod = emu.start_pod(PodSpec(name="p", model="m1"))
        out = tmp_path / "records.jsonl"
        args = ["loadgen", "--url", pod.url, "--model", "m1", "--rate", "20", "--duration", "0.5"]
        result = CliRunner().invoke(_app(), [*args, "--tokens", "azure-code", "--records", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    lines = out.read_text().splitlines()
    assert summary["sent"] == len(lines) == summary["ok"] > 0
    assert summary["e2e_s"]["count"] == summary["ok"]
    assert json.loads(lines[0])["status"] == 200


def test_loadgen_cli_rejects_bad_window(tmp_path: Path, shared_dir: Path) -> None:
    trace = shared_dir / "data/traces/mooncake_fast25_synthetic.jsonl"
    args = ["loadgen", "--url", "http://127.0.0.1:1", "--model", "m", "--trace", str(trace), "--window", "5:1"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 2
    assert "--window" in result.output
