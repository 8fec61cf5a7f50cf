"""The analyzer registry: one protocol, one result type, every wire name registered."""

from __future__ import annotations

import typing

import pytest

from tests.core.builders import V, snapshot
from wva_ray.api.config import AnalyzerName, SaturationSettings
from wva_ray.core.analyzers.base import AnalyzerSettings, GroupState, ModelGroup, Sizing, slo_context
from wva_ray.core.analyzers.registry import ANALYZERS, DEFAULT_ANALYZER, analyzer_for
from wva_ray.core.variants import build_variants


def test_every_wire_name_has_an_analyzer_and_no_more() -> None:
    assert set(ANALYZERS) == set(typing.get_args(AnalyzerName))


def test_default_is_v1_and_labels_are_unique() -> None:
    assert analyzer_for(DEFAULT_ANALYZER).label == "v1"
    assert analyzer_for("saturation").label == "saturation"
    assert analyzer_for("slo").label == "slo"
    labels = [a.label for a in ANALYZERS.values()]
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("name", [pytest.param(n, id=n or "default") for n in sorted(ANALYZERS)])
def test_each_analyzer_sizes_every_decidable_variant(name: str) -> None:
    snap = snapshot(
        V("a", [(0.9, 8.0), (0.85, 6.0)], cost="5", kv_tokens=16000, avg_in=500, avg_out=200),
        V("b", [(0.3, 0.0)], cost="20", accelerator="A100", kv_tokens=16000, avg_in=500, avg_out=200),
    )
    variants = tuple(build_variants(snap))
    settings = AnalyzerSettings(SaturationSettings(analyzer_name=name), slo_context({}, {}))  # type: ignore[arg-type]
    group = ModelGroup("llm", "m1", variants, snap.now)
    sizing = analyzer_for(name).size(group, settings, GroupState({}))
    assert isinstance(sizing, Sizing)
    assert set(sizing.targets) == {v.key for v in variants}
    assert set(sizing.reasons) == {v.key for v in variants}
    assert sizing.steps


def test_v2_reports_its_capacity_arithmetic() -> None:
    snap = snapshot(V("a", [(0.9, 8.0)], kv_tokens=16000, avg_in=500, avg_out=200))
    variants = tuple(build_variants(snap))
    settings = AnalyzerSettings(SaturationSettings(analyzer_name="saturation"), slo_context({}, {}))
    sizing = analyzer_for("saturation").size(ModelGroup("llm", "m1", variants, snap.now), settings, GroupState({}))
    assert sizing.capacity is not None and sizing.capacity.unit == "tokens"
    assert sizing.capacity.required > 0 and set(sizing.capacity.per_replica) == {"llm/a"}
