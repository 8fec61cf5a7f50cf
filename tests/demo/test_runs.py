"""Which rules the demo runs: the presets resolve, through the same configuration code as the controller, to the
analyzer each claims to stand for; the wva-ray side is what the Helm chart installs (unit)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wva_ray.core.analyzers.learned.stage import LearnedAnalyzer
from wva_ray.core.analyzers.registry import ANALYZERS
from wva_ray.core.analyzers.v09_list import analyzer_of
from wva_ray.core.analyzers.v2 import V2Analyzer
from wva_ray.core.config import parse_config, resolve_saturation
from wva_ray.demo.runs import (
    ANALYZER_CHOICES,
    UPSTREAM_RUN,
    WVA_RAY_RUN,
    DemoRun,
    analyzer_name,
    demo_runs,
    run_for,
)

CHART_VALUES = Path(__file__).resolve().parents[2] / "helm" / "wva-ray" / "values.yaml"


def _analyzer(run: DemoRun) -> object:
    resolved = resolve_saturation(parse_config(run.config()), "demo", "llama-3.1-8b")
    assert resolved.problems == ()
    return analyzer_of(resolved.settings)


@pytest.mark.parametrize(
    ("run", "kind"),
    [
        pytest.param(UPSTREAM_RUN, V2Analyzer, id="upstream-stock-configmap-runs-v2"),
        pytest.param(WVA_RAY_RUN, LearnedAnalyzer, id="wva-ray-default-runs-learned"),
    ],
)
def test_presets_resolve_to_the_analyzer_they_stand_for(run: DemoRun, kind: type) -> None:
    assert isinstance(_analyzer(run), kind)


def test_wva_ray_side_is_what_the_chart_installs() -> None:
    default = yaml.safe_load(CHART_VALUES.read_text())["saturation"]["default"]
    assert WVA_RAY_RUN.analyzer == default["analyzerName"]


@pytest.mark.parametrize(
    ("analyzer", "compare", "labels"),
    [
        pytest.param("learned", True, ("upstream", "wva-ray"), id="default-side-by-side"),
        pytest.param("learned", False, ("wva-ray",), id="no-compare"),
        pytest.param("slo", True, ("upstream", "slo"), id="another-analyzer-against-upstream"),
        pytest.param("saturation", True, ("upstream",), id="upstream-against-itself-runs-once"),
        pytest.param("", False, ("v1",), id="v1-alone"),
    ],
)
def test_demo_runs(analyzer: str, compare: bool, labels: tuple[str, ...]) -> None:
    runs = demo_runs(analyzer, compare)
    assert tuple(r.label for r in runs) == labels
    assert runs[-1].analyzer == analyzer


@pytest.mark.parametrize("name", [pytest.param(n, id=n or "v1") for n in ANALYZERS])
def test_every_registered_analyzer_can_run_and_resolves_to_itself(name: str) -> None:
    assert analyzer_name(name or "v1") == name
    if name not in ("", "saturation"):
        assert (
            analyzer_of(resolve_saturation(parse_config(run_for(name).config()), "d", "m").settings)
            is (ANALYZERS[name])
        )


def test_unknown_analyzer_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown analyzer 'nope'; known: v1, saturation, slo, learned"):
        analyzer_name("nope")
    assert set(ANALYZER_CHOICES) == {n or "v1" for n in ANALYZERS}
