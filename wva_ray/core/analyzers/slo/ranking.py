"""The order in which SLO sizing (analyzers `slo` and `learned`) adds and gives back replicas across a model's
variants. Pure.

Adding: the variants that can meet the class's targets come first, each part cheapest per capacity first; a
variant that cannot (its rate is a best-effort fallback) gets replicas only once every capable one is at its
max, so a cheap variant that misses the SLO never displaces one that meets it. Giving back is the mirror image:
the best-effort variants first, then the dearest per capacity. Both analyzers size with this one rule, so their
plans and the steps that explain them agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

MIN_RATE_PER_S = 1e-6  # below this a variant cannot meet the class (rate* 0)


class Ranked(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def rate_per_replica(self) -> float: ...
    @property
    def cost_per_capacity(self) -> float: ...
    @property
    def meets_slo(self) -> bool: ...
    @property
    def min_replicas(self) -> int: ...


V = TypeVar("V", bound=Ranked)


def scale_up_order(variants: Sequence[V]) -> list[V]:
    """The variants with capacity, in the order replicas are added (see the module docstring)."""
    usable = (v for v in variants if v.rate_per_replica >= MIN_RATE_PER_S)
    return sorted(usable, key=lambda v: (not v.meets_slo, v.cost_per_capacity, v.key))


def passed_over(usable: Sequence[V], added: Sequence[V], room: Callable[[V], int]) -> list[tuple[V, float]]:
    """Each variant that cannot meet the targets and got nothing although it had room and its capacity is cheaper
    than that of a capable variant that got replicas (ranked by cost alone it would have had them), with that
    dearer variant's cost per capacity. Empty when no variant can meet the targets."""
    if not any(v.meets_slo for v in usable):
        return []
    dearest = max((v.cost_per_capacity for v in added if v.meets_slo), default=-math.inf)
    return [
        (v, dearest)
        for v in usable
        if not v.meets_slo and v not in added and v.cost_per_capacity < dearest and room(v) > 0
    ]


def removals(variants: Sequence[V], targets: Mapping[str, int], supply: float, keep: float) -> dict[str, int]:
    """Replicas each variant can give back while `keep` req/s of `supply` stays covered, never below a variant's
    min nor the last replica of the model: the best-effort variants first, then the dearest per capacity."""
    out = {v.key: 0 for v in variants}
    total = sum(targets.values())
    left = supply
    for v in sorted(variants, key=lambda v: (v.meets_slo, -v.cost_per_capacity, v.key)):
        while targets[v.key] - out[v.key] > max(v.min_replicas, 0) and total > 1:
            if left - v.rate_per_replica < keep:
                break
            out[v.key] += 1
            left -= v.rate_per_replica
            total -= 1
    return out
