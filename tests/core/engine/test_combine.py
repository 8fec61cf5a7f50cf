"""Upstream v0.9's combination rule: up if any live analyzer asks, down only if all agree (smallest removal)."""

from __future__ import annotations

import pytest

from wva_ray.core.analyzers.combine import Vote, combine


@pytest.mark.parametrize(
    ("a", "b", "b_live", "expected"),
    [
        (5, 3, True, 5),  # a asks up
        (3, 5, True, 5),  # b asks up
        (2, 4, True, 4),  # only a wants down: hold
        (2, 3, True, 3),  # both down: the smaller removal
        (2, 9, False, 2),  # b not live: a alone decides
        (4, 4, True, 4),
    ],
)
def test_table(a: int, b: int, b_live: bool, expected: int) -> None:
    out = combine({"v": 4}, [Vote("a", {"v": a}), Vote("b", {"v": b}, b_live)])
    assert out.targets["v"] == expected


def test_no_live_analyzer_holds() -> None:
    out = combine({"v": 4}, [Vote("a", {"v": 1}, False)])
    assert out.targets == {"v": 4} and out.deciders == {"v": ""}
    assert any("no live analyzer" in s for s in out.steps)


def test_steps_name_the_rule() -> None:
    out = combine({"v": 4}, [Vote("a", {"v": 2}), Vote("b", {"v": 4})])
    assert "not every analyzer agrees" in out.steps[0]
