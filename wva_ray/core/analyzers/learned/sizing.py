"""Replicas for the demand's distribution, not its mean, with scale-down only once it has paid back. Pure.

Planned rate over the horizon H (the start-up delay of the variant that would be scaled, at its upper quantile,
plus one cycle): `max(level, forecast(H)) + z * spread + backlog / (drain_s + H)`. Each variant's capacity is
its SLO rate per replica with pessimistic parameters (`perf.pessimistic`), so both the workload's burstiness
(`spread`) and the model's uncertainty make headroom, and both shrink as they shrink.

Up: when the planned rate exceeds the supply of ready + starting replicas, replicas go where the cost per unit of
SLO capacity is lowest (then the next variant), up to each variant's max. While a variant's model is still unsure
(`max_add`), one cycle adds at most that many there (the fleet doubles per cycle at most): the next cycle, with
the new windows, decides the rest - a model fitted to one overloaded operating point must not buy a fleet.
Down: replicas come off the highest cost per capacity first while the rest covers `(1 + hysteresis) x` the
highest planned rate of the last window `max(min_down_s, payback_startups x expected start-up delay)` (a sliding
maximum, as the HPA's scale-down stabilisation takes one), once the controller has watched for a whole window with
nothing starting - a replica given back is a replica that, if needed again, costs a start-up delay of GPU time and
SLO risk - and never while replicas are still starting. The fleet comes down to what the last window's peak needs
in one decision, and the same window repeats the decision until the scaler has carried it out. The window
uses the expected delay (`payback_s`, the break-even of a restart), not the planning quantile the horizon uses: the
quantile is about when capacity can be counted on, the window about what a restart costs on average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_RATE_PER_S = 1e-6


@dataclass(frozen=True, slots=True)
class SizingSettings:
    z_demand: float = 1.65  # one-sided 95 % on the arrival spread
    drain_s: float = 60.0
    hysteresis: float = 0.10
    min_down_s: float = 180.0
    payback_startups: float = 1.0  # break-even: a replica kept idle for one start-up costs what a restart costs
    interval_s: float = 30.0


@dataclass(frozen=True, slots=True)
class DownState:
    """The scale-down window: since when nothing has been starting or added (`since_s`), and the planned rates of
    that time that can still be the window's maximum (a monotone queue: times ascending, rates descending)."""

    since_s: float | None = None
    peaks: tuple[tuple[float, float], ...] = ()  # (time s, planned req/s)

    def observe(self, now_s: float, planned_per_s: float, window_s: float) -> DownState:
        """The window after this cycle's planned rate; its maximum is `peaks[0][1]`."""
        kept = [(t, r) for t, r in self.peaks if t > now_s - window_s and r > planned_per_s]
        return DownState(now_s if self.since_s is None else self.since_s, (*kept, (now_s, planned_per_s)))

    @property
    def peak_per_s(self) -> float:
        return self.peaks[0][1] if self.peaks else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"sinceS": self.since_s, "peaks": [[t, r] for t, r in self.peaks]}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> DownState:
        try:
            since = data.get("sinceS")
            since_s = None if since is None else float(since)
            peaks = tuple((float(t), float(r)) for t, r in data.get("peaks", ()))
            if not peaks and since_s is not None and "peakPerS" in data:  # written before the queue existed
                peaks = ((since_s, float(data["peakPerS"])),)
            return DownState(since_s, peaks)
        except (TypeError, ValueError) as err:
            raise ValueError(f"scale-down state: invalid value ({err})") from err


@dataclass(frozen=True, slots=True)
class Capacity:
    key: str
    cost_per_replica: float
    rate_per_replica: float  # SLO rate (req/s) at pessimistic parameters; 0 = the class cannot be met here
    current: int
    ready: int
    pending: int
    startup_s: float  # planning start-up delay
    min_replicas: int = 0
    max_replicas: int | None = None
    max_add: int | None = None  # per cycle, while the model is unsure (None = no limit)
    payback_s: float | None = None  # expected start-up delay (the cost of a restart); None = startup_s

    @property
    def restart_s(self) -> float:
        return self.startup_s if self.payback_s is None else self.payback_s

    @property
    def cost_per_capacity(self) -> float:
        return self.cost_per_replica / self.rate_per_replica if self.rate_per_replica >= MIN_RATE_PER_S else math.inf


@dataclass(frozen=True, slots=True)
class Plan:
    targets: dict[str, int]
    planned_per_s: float
    supply_per_s: float
    horizon_s: float
    steps: tuple[str, ...]
    down: DownState


def planned_rate(
    level: float, ahead: float, spread: float, backlog: float, horizon_s: float, s: SizingSettings
) -> float:
    return max(level, ahead) + s.z_demand * spread + backlog / (s.drain_s + horizon_s)


def _room(v: Capacity, target: int) -> int:
    return (v.max_replicas if v.max_replicas is not None else 1_000_000) - target


def size(variants: Sequence[Capacity], planned_per_s: float, down: DownState, now_s: float, s: SizingSettings) -> Plan:
    """Targets per variant key (see the module docstring). `planned_per_s` is for the cheapest variant's horizon."""
    usable = sorted(
        (v for v in variants if v.rate_per_replica >= MIN_RATE_PER_S), key=lambda v: (v.cost_per_capacity, v.key)
    )
    targets = {v.key: v.current for v in variants}
    horizon = (usable[0].startup_s if usable else 0.0) + s.interval_s
    supply = sum((v.ready + v.pending) * v.rate_per_replica for v in variants)
    steps = [f"sizing: planned {planned_per_s:.2f} req/s over {horizon:.0f} s; supply {supply:.2f} req/s at SLO"]
    if not usable:
        steps.append("sizing: no variant can meet the class's targets; holding")
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState())
    if planned_per_s > supply + 1e-9:
        remaining = planned_per_s - supply
        for v in usable:
            room = _room(v, targets[v.key])
            if v.max_add is not None:
                room = min(room, v.max_add)
            if room <= 0:
                continue
            add = min(room, math.ceil(remaining / v.rate_per_replica - 1e-9))
            targets[v.key] += add
            remaining -= add * v.rate_per_replica
            steps.append(f"sizing: +{add} on {v.key} ({v.rate_per_replica:.2f} req/s per replica)")
            if remaining <= 1e-9:
                break
        if remaining > 1e-9:
            steps.append(f"sizing: short {remaining:.2f} req/s with every variant at its max")
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState())
    window = max(s.min_down_s, s.payback_startups * max(v.restart_s for v in variants))
    starting = sum(v.pending for v in variants)
    if starting:
        steps.append(f"sizing: {starting} replica(s) still starting; no scale-down meanwhile")
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState())
    down = down.observe(now_s, planned_per_s, window)
    peak = down.peak_per_s
    keep = peak * (1.0 + s.hysteresis)
    removable = _removals(variants, targets, supply, keep)
    if not any(removable.values()):
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)
    since = down.since_s if down.since_s is not None else now_s
    if now_s - since < window:
        steps.append(
            f"sizing: {sum(removable.values())} replica(s) spare above {keep:.2f} req/s; scale-down after "
            f"{window - (now_s - since):.0f} s more of it (window {window:.0f} s pays back a restart)"
        )
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)
    for key, n in removable.items():
        if n:
            targets[key] -= n
            steps.append(f"sizing: -{n} on {key} (spare above the last {window:.0f} s's peak {peak:.2f} req/s)")
    # the same window gives the same removal next cycle: until the scaler has carried it out (`current` still counts
    # the replicas given back) the decision stands, and it is withdrawn only if demand rises above the window's peak
    return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)


def _removals(variants: Sequence[Capacity], targets: dict[str, int], supply: float, keep: float) -> dict[str, int]:
    out = {v.key: 0 for v in variants}
    total = sum(targets.values())
    left = supply
    for v in sorted(variants, key=lambda v: (-v.cost_per_capacity, v.key)):
        while targets[v.key] - out[v.key] > max(v.min_replicas, 0) and total > 1:
            if left - v.rate_per_replica < keep:
                break
            out[v.key] += 1
            left -= v.rate_per_replica
            total -= 1
    return out
