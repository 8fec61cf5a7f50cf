"""Rendezvous hashing: stable, balanced, and minimal movement when the shard count changes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import assign, shard_of


def _groups(n: int) -> list[ModelGroupRef]:
    return [ModelGroupRef(namespace=f"ns{i % 7}", model_id=f"model-{i}") for i in range(n)]


def test_assignment_is_deterministic_and_total() -> None:
    groups = _groups(200)
    first = assign(groups, 4)
    assert first == assign(list(reversed(groups)), 4)
    flat = [g for gs in first.values() for g in gs]
    assert len(flat) == len(groups) and set(flat) == set(groups)
    assert set(first) == {0, 1, 2, 3}


def test_balanced_within_reason() -> None:
    sizes = [len(gs) for gs in assign(_groups(4000), 4).values()]
    assert min(sizes) > 800 and max(sizes) < 1200, sizes


@pytest.mark.parametrize("n", [pytest.param(n, id=f"{n}->{n + 1}") for n in (1, 2, 3, 4, 7)])
def test_growing_moves_about_one_over_n(n: int) -> None:
    groups = _groups(3000)
    moved = sum(shard_of(g, n) != shard_of(g, n + 1) for g in groups)
    expected = len(groups) / (n + 1)
    assert abs(moved - expected) < 0.15 * len(groups) / (n + 1) + 30, (moved, expected)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=9), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_a_moved_group_only_moves_to_the_new_shard(n: int, ns: str, model: str) -> None:
    group = ModelGroupRef(namespace=ns, model_id=model)
    before, after = shard_of(group, n), shard_of(group, n + 1)
    assert 0 <= before < n
    assert after in (before, n)


def test_rejects_zero_shards() -> None:
    with pytest.raises(ValueError, match="shards must be >= 1, got 0"):
        shard_of(ModelGroupRef("a", "b"), 0)
