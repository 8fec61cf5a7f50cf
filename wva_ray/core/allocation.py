"""Global allocation (the coordinator's step; wva-behaviour.md 3.5). Pure.

Fits every model's scale-ups into the free GPUs per accelerator type, the optional GPU budget per type and the
optional power budget. Scale-downs are never limited. Grants are whole replicas. Order: priority ascending, then
least spare capacity, then cost per unit of capacity, then name; with `Budget.rescale` (v0.9 `enableRescale`), a
contended accelerator type is first shared by weight (`rescale_caps`). A variant whose accelerator is exhausted offers
its unmet replicas to the other variants of the same model, cheapest first (spillover).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from wva_ray.core.v09_config import Quota


@dataclass(frozen=True, slots=True)
class Proposal:
    """One variant's proposal as the coordinator sees it (plain data: it crosses actor boundaries)."""

    key: str
    group: str  # "namespace/modelID"
    name: str
    accelerator: str
    gpus_per_replica: int
    current: int
    desired: int
    priority: int = 100
    spare_ratio: float = 0.0
    cost_per_capacity: float = 0.0
    cost: float = 10.0
    max_replicas: int | None = None
    actable: bool = True
    rescale_priority: int = 1  # v0.9 entry `priority` (higher = larger share under priority rescale)


@dataclass(frozen=True, slots=True)
class Budget:
    free_gpus: Mapping[str, float] | None  # None = inventory unlimited / unknown
    gpu_budget: Mapping[str, int] = field(default_factory=dict)
    power_budget_watts: float | None = None
    accelerator_watts: Mapping[str, float] = field(default_factory=dict)
    block_scale_ups: bool = False  # limiterFailureMode closed and the inventory could not be read
    quota: Quota | None = None  # upstream v0.9 `limiters: [{type: quota}]`: cluster and namespace GPU quotas
    rescale: bool = False  # upstream v0.9 `enableRescale` (with enableLimiter): shares by priority x demand


@dataclass(frozen=True, slots=True)
class Grant:
    desired: int
    limited: bool
    shortfall: int
    note: str


def _watts(acc: str, table: Mapping[str, float]) -> float:
    if acc in table:
        return table[acc]
    return max(table.values()) if table else 0.0


class _Pool:
    """GPUs and watts left to grant this cycle."""

    def __init__(self, proposals: Sequence[Proposal], budget: Budget) -> None:
        self.free: dict[str, float] = {}
        used: dict[str, float] = defaultdict(float)
        watts_used = 0.0
        for p in proposals:
            used[p.accelerator] += p.current * p.gpus_per_replica
            watts_used += p.current * p.gpus_per_replica * _watts(p.accelerator, budget.accelerator_watts)
        types = {p.accelerator for p in proposals}
        for acc in types:
            limit = math.inf
            if budget.free_gpus is not None:
                limit = min(limit, max(0.0, float(budget.free_gpus.get(acc, 0.0))))
            if acc in budget.gpu_budget:
                limit = min(limit, max(0.0, budget.gpu_budget[acc] - used[acc]))
            self.free[acc] = limit
        self.watts_left = (
            max(0.0, budget.power_budget_watts - watts_used) if budget.power_budget_watts is not None else math.inf
        )
        self.watts = budget.accelerator_watts
        self.quota = budget.quota
        self.ns_left: dict[tuple[str, str], float] = {}
        if self.quota is not None:
            ns_used: dict[tuple[str, str], float] = defaultdict(float)
            for p in proposals:
                ns_used[(_namespace(p.key), p.accelerator)] += p.current * p.gpus_per_replica
            for acc in types:
                self.free[acc] = min(self.free[acc], max(0.0, self.quota.limit("", acc)[0] - used[acc]))
            for ns, acc in {(_namespace(p.key), p.accelerator) for p in proposals}:
                self.ns_left[(ns, acc)] = max(0.0, self.quota.namespace_limit(ns, acc) - ns_used[(ns, acc)])

    def take(self, acc: str, gpr: int, want: int, namespace: str = "") -> int:
        per_replica_w = gpr * _watts(acc, self.watts)
        fit = min(self.free.get(acc, 0.0), self.ns_left.get((namespace, acc), math.inf)) / gpr
        if per_replica_w > 0:
            fit = min(fit, self.watts_left / per_replica_w)
        n = want if math.isinf(fit) else max(0, min(want, math.floor(fit + 1e-9)))
        self.free[acc] = self.free.get(acc, 0.0) - n * gpr
        if (namespace, acc) in self.ns_left:
            self.ns_left[(namespace, acc)] -= n * gpr
        self.watts_left -= n * per_replica_w
        return n


def _namespace(key: str) -> str:
    return key.split("/", 1)[0]


def _weight(p: Proposal) -> float:
    return p.rescale_priority * (p.desired - p.current) * p.gpus_per_replica


def rescale_caps(ups: Sequence[Proposal], free: Mapping[str, float]) -> dict[str, int]:
    """Priority rescale (upstream v0.9, `enableRescale`): under contention for an accelerator type (the GPUs asked
    exceed the free ones), each scale-up gets at most floor + (B - sum floor) * w / sum w GPUs, w = priority x
    demand, the floor being what it already runs (scale-ups start from 0 extra) and B the free GPUs. Whole
    replicas; keys of types without contention are absent (no cap)."""
    caps: dict[str, int] = {}
    for acc in sorted({p.accelerator for p in ups}):
        members = [p for p in ups if p.accelerator == acc]
        budget = free.get(acc, 0.0)
        asked = sum((p.desired - p.current) * p.gpus_per_replica for p in members)
        if math.isinf(budget) or asked <= budget:
            continue
        total = sum(_weight(p) for p in members)
        for p in members:
            share = budget * _weight(p) / total if total > 0 else 0.0
            caps[p.key] = min(p.desired - p.current, math.floor(share / p.gpus_per_replica + 1e-9))
    return caps


def allocate(proposals: Sequence[Proposal], budget: Budget) -> dict[str, Grant]:
    """Final desired count per proposal key."""
    pool = _Pool(proposals, budget)
    desired = {p.key: p.desired for p in proposals}
    grants: dict[str, Grant] = {}
    ups = sorted(
        (p for p in proposals if p.actable and p.desired > p.current),
        key=lambda p: (p.priority, p.spare_ratio, p.cost_per_capacity, p.key),
    )
    by_group: dict[str, list[Proposal]] = defaultdict(list)
    for p in proposals:
        if p.actable:
            by_group[p.group].append(p)
    spilled_in: dict[str, int] = defaultdict(int)
    caps = rescale_caps(ups, pool.free) if budget.rescale and not budget.block_scale_ups else {}
    for p in ups:
        want = p.desired - p.current
        first = min(want, caps[p.key]) if p.key in caps else want
        got = 0 if budget.block_scale_ups else pool.take(p.accelerator, p.gpus_per_replica, first, _namespace(p.key))
        desired[p.key] = p.current + got + spilled_in[p.key]
        unmet = want - got
        notes: list[str] = []
        if unmet > 0 and not budget.block_scale_ups:
            for other in sorted(by_group[p.group], key=lambda o: (o.cost, o.key)):
                if unmet <= 0:
                    break
                if other.key == p.key or other.accelerator == p.accelerator:
                    continue
                room = unmet if other.max_replicas is None else max(0, other.max_replicas - desired[other.key])
                extra = pool.take(other.accelerator, other.gpus_per_replica, min(unmet, room), _namespace(other.key))
                if extra > 0:
                    desired[other.key] += extra
                    spilled_in[other.key] += extra
                    unmet -= extra
                    notes.append(f"{extra} spilled over to {other.name} ({other.accelerator})")
                    if other.key in grants:  # already processed: refresh its grant
                        g = grants[other.key]
                        grants[other.key] = Grant(desired[other.key], g.limited, g.shortfall, g.note)
        if unmet > 0:
            why = (
                "scale-ups blocked: GPU inventory unreadable (limiterFailureMode closed)"
                if (budget.block_scale_ups)
                else f"{p.accelerator} GPUs{', quota' if budget.quota else ''} or power budget exhausted"
            )
            notes.append(f"short by {unmet} replicas: {why}")
        grants[p.key] = Grant(desired[p.key], unmet > 0, max(unmet, 0), "; ".join(notes))
    for p in sorted((p for p in ups if p.key in caps), key=lambda p: (-_weight(p), p.key)):
        g = grants[p.key]  # what the shares' rounding left goes to the heaviest weights first
        extra = pool.take(p.accelerator, p.gpus_per_replica, g.shortfall, _namespace(p.key)) if g.shortfall else 0
        if extra > 0:
            desired[p.key] += extra
            grants[p.key] = Grant(desired[p.key], g.shortfall > extra, g.shortfall - extra, g.note)
    for p in proposals:
        if p.key not in grants:
            extra = spilled_in.get(p.key, 0)
            note = f"received {extra} replicas spilled over from another variant" if extra else ""
            grants[p.key] = Grant(desired[p.key], False, 0, note)
    return grants
