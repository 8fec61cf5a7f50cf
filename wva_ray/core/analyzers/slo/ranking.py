"""The order in which SLO sizing (analyzers `slo` and `learned`) adds and gives back replicas across a model's
variants. Pure.

Adding: the variants that can meet the class's targets come first, each part cheapest per capacity first; a
variant that cannot (its rate is a best-effort fallback) gets replicas only once every capable one is at its
max, so a cheap variant that misses the SLO never displaces one that meets it; and its replicas' capacity counts
as supply only then (`best_effort_supply`): the requests they serve miss the targets. Giving back is the mirror image:
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


def best_effort_supply(usable: Sequence[V], replicas: Callable[[V], int]) -> float:
    """The capacity (req/s) of the best-effort variants' ``replicas``, when some variant can meet the targets (0
    otherwise: then every variant is the best effort and all of them count as supply)."""
    if not any(v.meets_slo for v in usable):
        return 0.0
    return sum(replicas(v) * v.rate_per_replica for v in usable if not v.meets_slo)


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


def spare_best_effort(variants: Sequence[V], targets: Mapping[str, int], supply: float, need: float) -> dict[str, int]:
    """Best-effort replicas to give back now: all of them (down to each variant's min, keeping the model's last
    replica) when the variants that meet the targets cover ``need`` on their own. Such a replica only draws
    requests that then miss the targets, so no payback window applies; empty when they are needed (the capable
    variants are full and they carry the overflow) or when no variant can meet the targets."""
    usable = [v for v in variants if v.rate_per_replica >= MIN_RATE_PER_S]
    best_effort = best_effort_supply(usable, lambda v: targets[v.key])
    if best_effort <= 0 or supply - best_effort < need:
        return {}
    out: dict[str, int] = {}
    total = sum(targets.values())
    for v in sorted((v for v in usable if not v.meets_slo), key=lambda v: (-v.cost_per_capacity, v.key)):
        n = max(0, min(targets[v.key] - max(v.min_replicas, 0), total - 1))
        if n:
            out[v.key] = n
            total -= n
    return out


def removals(variants: Sequence[V], targets: Mapping[str, int], supply: float, keep: float) -> dict[str, int]:
    """Replicas each variant can give back while `keep` req/s of `supply` stays covered, never below a variant's
    min nor the last replica of the model: the best-effort variants first, then the dearest per capacity.

    When the variants that meet the targets cover `keep` on their own, every best-effort replica is spare: its
    capacity is not capacity at the targets (the requests routed to it miss them), so it goes whatever its rate.
    Otherwise the best-effort capacity is what carries the overflow: it counts like any other, and while a
    best-effort replica stays, no replica that meets the targets goes."""
    out = {v.key: 0 for v in variants}
    total = sum(targets.values())
    usable = [v for v in variants if v.rate_per_replica >= MIN_RATE_PER_S]
    best_effort = best_effort_supply(usable, lambda v: targets[v.key])
    spare_best_effort = best_effort > 0 and supply - best_effort >= keep
    left = supply - best_effort if spare_best_effort else supply
    for v in sorted(variants, key=lambda v: (v.meets_slo, -v.cost_per_capacity, v.key)):
        if best_effort > 0 and v.meets_slo and any(targets[b.key] > out[b.key] for b in usable if not b.meets_slo):
            break  # a best-effort replica still carries overflow: every replica that meets the targets is needed
        rate = 0.0 if spare_best_effort and not v.meets_slo else v.rate_per_replica
        while targets[v.key] - out[v.key] > max(v.min_replicas, 0) and total > 1:
            if left - rate < keep:
                break
            out[v.key] += 1
            left -= rate
            total -= 1
    return out
