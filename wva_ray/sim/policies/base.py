"""The one interface every simulated autoscaler implements, plus shared guardrails.

A policy is called every `interval_s` of virtual time with the same delayed `Observation` all policies
get, and returns the desired replica count per variant name (a variant it omits keeps its count). A
policy object keeps its own typed state between calls (one object per simulation run). Pure, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from wva_ray.sim.observe import Observation, VariantView


class Policy(Protocol):
    name: str
    interval_s: float

    def decide(self, obs: Observation) -> Mapping[str, int]:
        """Desired replicas per variant name at `obs.now_s`."""
        ...


@dataclass(frozen=True)
class HpaBehavior:
    """Kubernetes HPA `behavior` (autoscaling/v2 defaults unless set)."""

    up_stabilization_s: float = 0.0
    down_stabilization_s: float = 300.0
    up_percent: float = 100.0  # per up_period_s
    up_pods: int = 4  # per up_period_s
    up_period_s: float = 15.0
    down_percent: float = 100.0  # per down_period_s
    down_pods: int | None = None
    down_period_s: float = 15.0
    tolerance: float = 0.1


WVA_CHART_BEHAVIOR = HpaBehavior(
    up_stabilization_s=240.0,
    down_stabilization_s=240.0,
    up_percent=0.0,
    up_pods=10,
    up_period_s=150.0,
    down_percent=0.0,
    down_pods=10,
    down_period_s=150.0,
)


class HpaStabilizer:
    """The HPA's replica recommendation pipeline after the metric ratio: stabilization windows
    (up: min of the window's recommendations, down: max) and rate policies (selectPolicy Max)."""

    def __init__(self, behavior: HpaBehavior) -> None:
        self.behavior = behavior
        self._recs: deque[tuple[float, int]] = deque()
        self._changes: deque[tuple[float, int]] = deque()  # (time, replicas after change) history

    def apply(self, now_s: float, current: int, recommendation: int) -> int:
        b = self.behavior
        self._recs.append((now_s, recommendation))
        horizon = max(b.up_stabilization_s, b.down_stabilization_s)
        while self._recs and self._recs[0][0] < now_s - horizon:
            self._recs.popleft()
        ups = [r for t, r in self._recs if t >= now_s - b.up_stabilization_s]
        downs = [r for t, r in self._recs if t >= now_s - b.down_stabilization_s]
        desired = current
        if recommendation > current:
            desired = max(current, min(ups) if ups else recommendation)
            desired = min(desired, self._up_limit(now_s, current))
        elif recommendation < current:
            desired = min(current, max(downs) if downs else recommendation)
            desired = max(desired, self._down_limit(now_s, current))
        if desired != current:
            self._changes.append((now_s, current))
        return desired

    def _base(self, now_s: float, period_s: float, current: int, lowest: bool) -> int:
        """Replica count at the start of the period (HPA uses the lowest/highest within it)."""
        while self._changes and self._changes[0][0] < now_s - 3600:
            self._changes.popleft()
        inside = [r for t, r in self._changes if t > now_s - period_s]
        if not inside:
            return current
        return min(current, *inside) if lowest else max(current, *inside)

    def _up_limit(self, now_s: float, current: int) -> int:
        b = self.behavior
        base = self._base(now_s, b.up_period_s, current, lowest=True)
        limit = max(math.ceil(base * (1 + b.up_percent / 100.0)), base + b.up_pods)
        return max(limit, current)

    def _down_limit(self, now_s: float, current: int) -> int:
        b = self.behavior
        base = self._base(now_s, b.down_period_s, current, lowest=False)
        by_pct = math.floor(base * (1 - b.down_percent / 100.0)) if b.down_percent > 0 else base
        by_pods = base - b.down_pods if b.down_pods is not None else base
        return min(max(0, min(by_pct, by_pods)), current)


def clamp(view: VariantView, replicas: int) -> int:
    return max(view.min_replicas, min(view.max_replicas, replicas))


def cheapest(variants: list[VariantView]) -> VariantView:
    """Cheapest per replica, ties by name (WVA V1's choice)."""
    return min(variants, key=lambda v: (v.cost_per_replica, v.name))
