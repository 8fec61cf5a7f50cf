"""`slo.ranking`: the one order both SLO analyzers add and give back replicas in (properties; the analyzers' own
tables are in tests/core/slo/test_sizing.py, tests/core/engine/test_sizing.py and test_best_effort.py)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wva_ray.core.analyzers.slo import ranking


@dataclass(frozen=True)
class V:
    key: str
    rate_per_replica: float
    cost_per_replica: float
    meets_slo: bool
    min_replicas: int = 0

    @property
    def cost_per_capacity(self) -> float:
        return self.cost_per_replica / self.rate_per_replica if self.rate_per_replica > 0 else float("inf")


variants = st.lists(
    st.builds(
        V,
        key=st.sampled_from("abcdefgh"),
        rate_per_replica=st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]),
        cost_per_replica=st.sampled_from([1.0, 2.0, 5.0, 10.0]),
        meets_slo=st.booleans(),
        min_replicas=st.integers(0, 2),
    ),
    max_size=6,
    unique_by=lambda v: v.key,
)


@given(variants)
def test_capable_variants_come_first_each_part_cheapest_first(vs: list[V]) -> None:
    order = ranking.scale_up_order(vs)
    assert all(v.rate_per_replica >= ranking.MIN_RATE_PER_S for v in order)
    assert len(order) == sum(v.rate_per_replica > 0 for v in vs)
    flags = [v.meets_slo for v in order]
    assert flags == sorted(flags, reverse=True)  # every capable one before any best-effort one
    for a, b in itertools.pairwise(order):
        if a.meets_slo == b.meets_slo:
            assert a.cost_per_capacity <= b.cost_per_capacity


@given(variants, st.data())
def test_passed_over_only_cheaper_best_effort_variants_with_room(vs: list[V], data: st.DataObject) -> None:
    usable = ranking.scale_up_order(vs)
    added = data.draw(st.lists(st.sampled_from(usable), unique=True) if usable else st.just([]))
    room = {v.key: data.draw(st.integers(0, 2)) for v in vs}
    out = ranking.passed_over(usable, added, lambda v: room[v.key])
    if not any(v.meets_slo for v in usable):
        assert out == []
    for v, dearest in out:
        assert not v.meets_slo and v not in added and room[v.key] > 0
        assert v.cost_per_capacity < dearest
        assert dearest == max(a.cost_per_capacity for a in added if a.meets_slo)


@given(variants, st.data())
def test_removals_keep_the_floor_and_the_capacity(vs: list[V], data: st.DataObject) -> None:
    targets = {v.key: data.draw(st.integers(v.min_replicas, v.min_replicas + 4)) for v in vs}
    supply = sum(targets[v.key] * v.rate_per_replica for v in vs)
    keep = data.draw(st.floats(0.0, max(supply, 0.0)))
    out = ranking.removals(vs, targets, supply, keep)
    left = supply - sum(out[v.key] * v.rate_per_replica for v in vs)
    assert all(targets[v.key] - out[v.key] >= v.min_replicas for v in vs)
    assert left >= keep - 1e-9 or not any(out.values())
    remaining = sum(targets.values()) - sum(out.values())
    assert remaining >= min(1, sum(targets.values()))
    # a capable variant gives back nothing while a best-effort one could still give back and stay above keep
    if any(out[v.key] for v in vs if v.meets_slo):
        for v in vs:
            if not v.meets_slo and targets[v.key] - out[v.key] > v.min_replicas:
                assert left - v.rate_per_replica < keep or remaining <= 1


@pytest.mark.parametrize(
    ("targets", "keep", "expected"),
    [
        pytest.param({"h100": 3, "l40s": 2}, 25.0, {"h100": 0, "l40s": 2}, id="capable cover keep: best effort all go"),
        pytest.param({"h100": 2, "l40s": 2}, 25.0, {"h100": 0, "l40s": 1}, id="capable short: best effort counts"),
        pytest.param({"h100": 3, "l40s": 2}, 5.0, {"h100": 2, "l40s": 2}, id="then the capable give back too"),
    ],
)
def test_best_effort_replicas_are_spare_once_the_capable_ones_cover_keep(
    targets: dict[str, int], keep: float, expected: dict[str, int]
) -> None:
    vs = [V("h100", 10.0, 1.0, True), V("l40s", 40.0, 0.3, False)]
    supply = sum(targets[v.key] * v.rate_per_replica for v in vs)
    assert ranking.removals(vs, targets, supply, keep) == expected
