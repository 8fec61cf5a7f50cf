"""Replicas for the demand's distribution, not its mean, with scale-down only once it has paid back. Pure.

Planned rate over the horizon H (the start-up delay of the variant that would be scaled, at its upper quantile,
plus one cycle): `max(level, forecast(H)) + z * spread + backlog / (drain_s + H)`. Each variant's capacity is
its SLO rate per replica with pessimistic parameters (`perf.pessimistic`), so both the workload's burstiness
(`spread`) and the model's uncertainty make headroom, and both shrink as they shrink.

Up: when the planned rate exceeds the supply of ready + starting replicas, replicas go where the cost per unit of
SLO capacity is lowest (then the next variant), up to each variant's max. While a variant's model is still unsure
(`max_add`), one cycle adds at most that many there (the fleet doubles per cycle at most): the next cycle, with
the new windows, decides the rest - a model fitted to one overloaded operating point must not buy a fleet.
A variant that cannot meet the class's targets at any rate (`meets_slo` False: its capacity is a best-effort
fallback) comes after every variant that can, however cheap its capacity looks: it gets replicas only once those
are at their max (or their per-cycle limit), and it gives replicas back first. Its replicas' capacity does not
count toward the plan while a capable variant can still grow (the requests they serve miss the targets), so the
capable ones are sized for all of it and the best-effort replicas become spare, given back once the window allows.
A group where no variant can meet the targets is ranked by cost per capacity alone, as if all could.
Down: replicas come off the highest cost per capacity first while the rest covers `(1 + hysteresis) x` the larger
of two rates: the plan now (so the next cycle's scale-up rule does not take the removal back) and the highest
arrival rate MEASURED over the last window `max(min_down_s, payback_startups x expected start-up delay)` (one
value per span of measurements, a sliding maximum as the HPA's scale-down stabilisation takes one), and only once
the fleet has not grown for a whole window - a replica given back is a replica that, if needed again, costs a
start-up delay of GPU time and SLO risk - and never while replicas are not ready. The window restarts whenever the
fleet grows, whoever added the replicas (this analyzer, another one through the combination, a person), and while
any replica is not ready (current - ready > 0).
The window holds measurements, not plans: a plan is smoothed and carries a forecast and a burst headroom, and a
sliding maximum of plans after a fall in demand kept the fleet up for the smoothing's lag PLUS a whole window after
it (the simulator's replay of the closed loop's ramp: 298-422 s for a 180-s window; 214-244 s with measurements).
With measurements, the time from a step down to the decision is the window plus the signal's own lag (the rate
window, about one minute, and one span), as long as the plan has come down by then (the demand module keeps its
burst headroom for one window: `demand.observe`'s `spread_memory_s`). The fleet comes down to what the window's
peak needs in one decision, and the same window repeats the decision until the scaler has carried it out. The
window uses the expected delay (`payback_s`, the break-even of a restart), not the planning quantile the horizon
uses: the quantile is about when capacity can be counted on, the window about what a restart costs on average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wva_ray.core.analyzers.slo import ranking

MIN_RATE_PER_S = ranking.MIN_RATE_PER_S


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
    """The scale-down window: since when nothing has been starting or added (`since_s`), and the arrival rates
    measured in that time (one per closed span) that can still be the window's maximum (a monotone queue: times
    ascending, rates descending)."""

    since_s: float | None = None
    peaks: tuple[tuple[float, float], ...] = ()  # (time s, measured arrivals req/s)
    fleet: int | None = None  # replicas (current, all variants) last cycle: more now = added, the window restarts
    raised: tuple[tuple[str, int, float], ...] = ()  # (variant key, replicas asked for, since s): a scale-up that
    # stands until carried out (or one expected start-up delay has passed)

    def observe(self, now_s: float, rate_per_s: float | None, window_s: float) -> DownState:
        """The window after this cycle (`rate_per_s`: a span's measured rate, None when no span closed); its
        maximum is `peaks[0][1]`."""
        kept = [(t, r) for t, r in self.peaks if t > now_s - window_s and (rate_per_s is None or r > rate_per_s)]
        new = () if rate_per_s is None else ((now_s, rate_per_s),)
        return DownState(now_s if self.since_s is None else self.since_s, (*kept, *new), self.fleet, self.raised)

    @property
    def peak_per_s(self) -> float:
        return self.peaks[0][1] if self.peaks else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sinceS": self.since_s,
            "peaks": [[t, r] for t, r in self.peaks],
            "fleet": self.fleet,
            "raised": [[k, n, t] for k, n, t in self.raised],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> DownState:
        try:
            since = data.get("sinceS")
            since_s = None if since is None else float(since)
            peaks = tuple((float(t), float(r)) for t, r in data.get("peaks", ()))
            if not peaks and since_s is not None and "peakPerS" in data:  # written before the queue existed
                peaks = ((since_s, float(data["peakPerS"])),)
            fleet = data.get("fleet")
            raised = tuple((str(k), int(n), float(t)) for k, n, t in data.get("raised", ()))
            return DownState(since_s, peaks, None if fleet is None else int(fleet), raised)
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
    meets_slo: bool = True  # False: rate_per_replica is a best effort; the class's targets are not met here

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


def ranked(variants: Sequence[Capacity]) -> list[Capacity]:
    """The variants with capacity, in scale-up order (`slo.ranking`; the first one's start-up delay is the planning
    horizon)."""
    return ranking.scale_up_order(variants)


def _can_grow(usable: Sequence[Capacity], targets: Mapping[str, int]) -> bool:
    """Whether a variant that meets the class's targets can take one more replica this cycle."""
    return any(v.meets_slo and _room(v, targets[v.key]) > 0 and (v.max_add is None or v.max_add > 0) for v in usable)


def planned_rate(
    level: float, ahead: float, spread: float, backlog: float, horizon_s: float, s: SizingSettings
) -> float:
    return max(level, ahead) + s.z_demand * spread + backlog / (s.drain_s + horizon_s)


def _room(v: Capacity, target: int) -> int:
    return (v.max_replicas if v.max_replicas is not None else 1_000_000) - target


def down_window_s(variants: Sequence[Capacity], s: SizingSettings) -> float:
    """The scale-down (payback) window: `max(min_down_s, payback_startups x the longest expected start-up)`."""
    return max(s.min_down_s, s.payback_startups * max((v.restart_s for v in variants), default=0.0))


def size(
    variants: Sequence[Capacity],
    planned_per_s: float,
    down: DownState,
    now_s: float,
    s: SizingSettings,
    measured_per_s: float | None = None,
) -> Plan:
    """Targets per variant key (see the module docstring). `planned_per_s` is for the horizon of `ranked`'s first;
    `measured_per_s` is the arrival rate of the span of measurements that closed this cycle (None if none did)."""
    usable = ranked(variants)
    capable = any(v.meets_slo for v in usable)
    # a scale-up asked for and not carried out yet stands (the scaler acts a few cycles later): its replicas count
    # as coming, and the target is not taken back meanwhile (a one-cycle dip of the plan had flipped 3, 2, 3)
    by_key = {v.key: v for v in variants}
    raised = {
        k: (n, t0)
        for k, n, t0 in down.raised
        if k in by_key and by_key[k].current < n and now_s - t0 < by_key[k].restart_s
    }
    targets = {v.key: max(v.current, raised[v.key][0] if v.key in raised else 0) for v in variants}
    horizon = (usable[0].startup_s if usable else 0.0) + s.interval_s
    supply = sum(max(v.ready + v.pending, targets[v.key]) * v.rate_per_replica for v in variants)
    steps = [f"sizing: planned {planned_per_s:.2f} req/s over {horizon:.0f} s; supply {supply:.2f} req/s at SLO"]
    for k, (n, t0) in sorted(raised.items()):
        steps.append(f"sizing: {k}: {n} replicas asked for {now_s - t0:.0f} s ago, not carried out yet; it stands")
    standing = tuple((k, n, t0) for k, (n, t0) in sorted(raised.items()))
    if not usable:
        steps.append("sizing: no variant can meet the class's targets; holding")
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState(raised=standing))
    # while a capable variant can still grow, a best-effort replica's capacity does not count toward the plan: its
    # requests miss the targets, so the capable ones are sized for all of it (the best-effort replicas are spare
    # then, and given back first); once the capable ones are full, it counts (they are the best effort left)
    best_effort = ranking.best_effort_supply(usable, lambda v: max(v.ready + v.pending, targets[v.key]))
    counted = supply - best_effort if best_effort and _can_grow(usable, targets) else supply
    if planned_per_s > counted + 1e-9:
        remaining = planned_per_s - counted
        if not capable:
            steps.append("sizing: no variant meets the class's targets at any rate; best effort, cheapest first")
        elif counted < supply:
            steps.append(
                f"sizing: {best_effort:.2f} req/s of the supply is best effort (misses the class's targets); "
                "the variants that meet them are sized for the plan"
            )
        added: list[Capacity] = []
        for v in usable:
            if counted < supply and not v.meets_slo:  # the capable ones are full: the best effort counts now
                remaining -= best_effort
                counted = supply
                if remaining <= 1e-9:
                    break
            room = _room(v, targets[v.key])
            if v.max_add is not None:
                room = min(room, v.max_add)
            if room <= 0:
                continue
            add = min(room, math.ceil(remaining / v.rate_per_replica - 1e-9))
            targets[v.key] += add
            remaining -= add * v.rate_per_replica
            added.append(v)
            why = "" if v.meets_slo or not capable else "; it cannot meet the targets, the variants that can are full"
            steps.append(f"sizing: +{add} on {v.key} ({v.rate_per_replica:.2f} req/s per replica{why})")
            if remaining <= 1e-9:
                break
        steps.extend(_passed_over(usable, added, targets))
        if remaining > 1e-9:
            steps.append(f"sizing: short {remaining:.2f} req/s with every variant at its max")
        asked = tuple(
            (
                v.key,
                targets[v.key],
                raised[v.key][1] if v.key in raised and targets[v.key] == raised[v.key][0] else now_s,
            )
            for v in sorted(variants, key=lambda v: v.key)
            if targets[v.key] > v.current
        )
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState(raised=asked))
    window = down_window_s(variants, s)
    starting = sum(v.pending for v in variants)
    fleet = sum(v.current for v in variants)
    if down.fleet is not None and fleet > down.fleet:  # added since the last cycle (by any analyzer or by hand)
        steps.append(f"sizing: the fleet grew from {down.fleet} to {fleet}; the scale-down window starts afresh")
        down = DownState()
    down = replace(down.observe(now_s, measured_per_s, window), fleet=fleet, raised=standing)
    if standing:
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)
    if starting:  # a replica must be ready, then unneeded for a whole window (without it: S3-replay 0.81 -> 0.65)
        steps.append(f"sizing: {starting} replica(s) not ready; no scale-down meanwhile, the window starts afresh")
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), DownState(fleet=fleet, raised=standing))
    retire = ranking.spare_best_effort(variants, targets, supply, planned_per_s)
    if retire:  # the capable replicas, all ready, carry the plan: a best-effort one only draws requests that miss
        for key, n in retire.items():
            targets[key] -= n
            steps.append(
                f"sizing: -{n} on {key} (it cannot meet the class's targets, and the variants that can cover the "
                f"plan {planned_per_s:.2f} req/s without it; no payback window for a replica whose requests miss)"
            )
        return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)
    peak = max(down.peak_per_s, planned_per_s)
    keep = peak * (1.0 + s.hysteresis)
    removable = ranking.removals(variants, targets, supply, keep)
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
            first = "; it cannot meet the targets, so it goes first" if capable and not by_key[key].meets_slo else ""
            steps.append(
                f"sizing: -{n} on {key} (spare above {keep:.2f} req/s: 1+{s.hysteresis:g} x the larger of the plan "
                f"{planned_per_s:.2f} and the last {window:.0f} s's measured peak {down.peak_per_s:.2f} req/s{first})"
            )
    # the same window gives the same removal next cycle: until the scaler has carried it out (`current` still counts
    # the replicas given back) the decision stands, and it is withdrawn only if demand or the plan rises above it
    return Plan(targets, planned_per_s, supply, horizon, tuple(steps), down)


def _passed_over(usable: Sequence[Capacity], added: Sequence[Capacity], targets: Mapping[str, int]) -> list[str]:
    """Steps naming each variant that cannot meet the targets and was passed over (`ranking.passed_over`)."""
    return [
        f"sizing: {v.key} passed over although cheaper per capacity ({v.cost_per_capacity:.3g} vs {dearest:.3g}): "
        "it cannot meet the class's targets at any rate; the variants that can are used first"
        for v, dearest in ranking.passed_over(usable, added, lambda v: _room(v, targets[v.key]))
    ]
