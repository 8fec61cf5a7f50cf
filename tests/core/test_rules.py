"""The shared selection and transition rules (core.rules), as tables."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wva_ray.core.rules import (
    Gate,
    cheapest,
    may_grow,
    may_shrink,
    most_expensive,
    most_expensive_first,
    transition_gate,
)


@dataclass(frozen=True)
class Item:
    name: str
    cost: float


ITEMS = [Item("b", 5.0), Item("a", 5.0), Item("c", 20.0), Item("d", 20.0)]


def test_cheapest_breaks_ties_by_name_ascending() -> None:
    assert cheapest(ITEMS) == Item("a", 5.0)


def test_most_expensive_breaks_ties_by_name_descending() -> None:
    assert most_expensive(ITEMS) == Item("d", 20.0)
    assert [i.name for i in most_expensive_first(ITEMS)] == ["d", "c", "b", "a"]


def test_no_candidate_is_none() -> None:
    assert cheapest([]) is None and most_expensive([]) is None


@pytest.mark.parametrize(
    ("replicas", "max_replicas", "grow"),
    [
        pytest.param(3, None, True, id="unbounded"),
        pytest.param(3, 4, True, id="below-max"),
        pytest.param(4, 4, False, id="at-max"),
        pytest.param(0, 1, True, id="zero-may-wake"),
    ],
)
def test_may_grow(replicas: int, max_replicas: int | None, grow: bool) -> None:
    assert may_grow(replicas, max_replicas) is grow


@pytest.mark.parametrize(
    ("replicas", "min_replicas", "shrink"),
    [
        pytest.param(2, None, True, id="above-one"),
        pytest.param(1, None, False, id="last-replica-kept"),
        pytest.param(1, 0, False, id="min-zero-still-keeps-one"),
        pytest.param(3, 3, False, id="at-min"),
        pytest.param(4, 3, True, id="above-min"),
    ],
)
def test_may_shrink(replicas: int, min_replicas: int | None, shrink: bool) -> None:
    assert may_shrink(replicas, min_replicas) is shrink


@pytest.mark.parametrize(
    ("moving", "elapsed_s", "gate"),
    [
        pytest.param(False, 9999.0, Gate.OPEN, id="no-transition"),
        pytest.param(True, 10.0, Gate.HOLD, id="within-timeout"),
        pytest.param(True, 600.0, Gate.EXPIRED, id="at-timeout"),
        pytest.param(True, None, Gate.HOLD, id="unknown-start-never-expires"),
    ],
)
def test_transition_gate(moving: bool, elapsed_s: float | None, gate: Gate) -> None:
    assert transition_gate(moving, elapsed_s, 600.0) is gate
