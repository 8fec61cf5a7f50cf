"""Which analyzer an `analyzers:` list selects (core.analyzers.v09_list); the combination itself is checked
end to end by the acceptance cases v09-combine-* and v09-throughput-only."""

from __future__ import annotations

from typing import Any

import pytest

from wva_ray.api.config import SaturationSettings
from wva_ray.api.v09_config import AnalyzerSpec
from wva_ray.core.analyzers.v09_list import analyzer_of, list_kinds


def _settings(name: str, *items: dict[str, Any]) -> SaturationSettings:
    return SaturationSettings(analyzer_name=name, analyzers=tuple(AnalyzerSpec(**i) for i in items))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "items", "label"),
    [
        ("", (), "v1"),  # no list: the registry's default, as before
        ("saturation", ({"name": "saturation"},), "saturation"),  # the stock install: V2 alone, as before
        ("saturation", ({"name": "saturation"}, {"type": "throughput"}), "saturation+throughput"),
        ("saturation", ({"name": "throughput"}, {"name": "saturation"}), "throughput+saturation"),
        ("saturation", ({"name": "saturation", "enabled": False}, {"name": "throughput"}), "throughput"),
        ("saturation", ({"name": "throughput", "enabled": False},), "saturation"),  # nothing enabled: V2 decides
        ("saturation", ({"type": "bogus"}, {"name": "throughput"}), "throughput"),  # unknown types are ignored
        ("slo", ({"name": "saturation"}, {"name": "throughput"}), "slo"),  # an explicit analyzerName wins
    ],
)
def test_the_list_selects(name: str, items: tuple[dict[str, Any], ...], label: str) -> None:
    assert analyzer_of(_settings(name, *items)).label == label


def test_kinds_are_listed_once() -> None:
    s = _settings("saturation", {"name": "throughput"}, {"type": "throughput", "score": 2.0})
    assert list_kinds(s) == ("throughput",)
