"""`wva-ray demo`'s flags: side by side by default, `--no-compare` and `--analyzer` pick one run, `--help` says so
(the demo itself is replaced: tests/demo runs it)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import wva_ray.cli.demo as demo_cli
from wva_ray.cli import app
from wva_ray.demo.runner import DemoOptions

runner = CliRunner()


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[DemoOptions]:
    seen: list[DemoOptions] = []

    def fake_run(options: DemoOptions, console: Any) -> dict[str, Any]:
        seen.append(options)
        return {}

    monkeypatch.setattr(demo_cli, "run_demo", fake_run)
    return seen


@pytest.mark.parametrize(
    ("args", "analyzer", "compare", "labels"),
    [
        pytest.param([], "learned", True, ["upstream", "wva-ray"], id="default-side-by-side"),
        pytest.param(["--no-compare"], "learned", False, ["wva-ray"], id="wva-ray-alone"),
        pytest.param(["--analyzer", "v1", "--no-compare"], "", False, ["v1"], id="v1-alone"),
        pytest.param(["--analyzer", "slo"], "slo", True, ["upstream", "slo"], id="slo-against-upstream"),
        pytest.param(["--analyzer", "saturation"], "saturation", True, ["upstream"], id="upstream-alone"),
    ],
)
def test_flags_choose_the_runs(
    captured: list[DemoOptions], args: list[str], analyzer: str, compare: bool, labels: list[str]
) -> None:
    result = runner.invoke(app, ["demo", "--no-live", *args])
    assert result.exit_code == 0, result.output
    (options,) = captured
    assert (options.analyzer, options.compare) == (analyzer, compare)
    assert [r.label for r in options.runs] == labels


def test_unknown_analyzer_exits_2_naming_the_known_ones(captured: list[DemoOptions]) -> None:
    result = runner.invoke(app, ["demo", "--analyzer", "nope"])
    assert result.exit_code == 2
    assert "unknown analyzer 'nope'" in result.output and "learned" in result.output
    assert captured == []


def test_help_explains_the_comparison() -> None:
    result = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in ("--compare", "--no-compare", "--analyzer", "upstream WVA v0.9", "side by side"):
        assert phrase in text, phrase
