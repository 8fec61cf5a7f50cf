"""Rate-aware sizing of one model's variants against their SLO capacities. Pure: `now_s` and state come in.

Arrival rate. Each cycle measures `observed = sum over pods of rate(vllm:request_success_total)` plus the change
of the waiting queue `(waiting_now - waiting_before) / dt` (completions undercount arrivals once replicas are
full, queue growth is the rest; they overcount them while a backlog drains, the queue's shrinking). On top it
sizes for `backlog / (drain_s + horizon)` so a standing queue gets drained: capacity added now arrives only after
the start-up delay, so the backlog is spread over that delay plus `drain_s` (spreading it over `drain_s` alone
re-buys the same backlog every cycle while replicas start).

Forecast: Holt's linear trend (double exponential smoothing), time-aware (`a = 1 - exp(-dt / tau)`), over the
start-up delay of the variant that would be scaled (+ one cycle). Chosen because it is the smallest model with a
trend: two numbers of state (level, trend per second), irregular cycle lengths handled by the time constants, no
history window to persist, and its response to a ramp is a ramp (a last-value or moving-average predictor lags a
ramp by its whole window). ARIMA (Dynamo's default) needs a fitted window of 50 samples per model, more state
than one cycle should carry for 10,000 VAs. The extrapolated trend is bounded to [-50 %, +50 %] of the level so
a noisy slope (or the jump of a step, which Holt first reads as a slope) cannot size for a wild rate.
Scale-up uses max(level, forecast) (never below what is measured now);
scale-down uses max(level, forecast, observed).

Decision. Required capacity = planned rate / `target_utilization`. Supply counts ready and pending replicas
(pending ones are already coming). Short: add replicas to the variant with the lowest cost per unit of SLO
capacity (cost per replica / rate* per replica) that is below its max, then the next. Long: remove replicas from
the highest cost-per-capacity variant while the rest still covers `(1 + down_hysteresis) x` the highest
requirement seen in the scale-down window, and only once spare capacity has lasted the whole window:
`max(down_delay_s, down_window_startups x start-up delay)` (a replica given back must not be needed again before
a new one could start), and never while replicas are still starting (their capacity is not proven yet).
A variant that cannot meet the class's targets at any rate (`meets_slo` False: its rate is a best-effort fallback)
comes after every variant that can, however cheap its capacity: it is added to only once those are at their max and
removed from first, and its replicas' capacity counts as supply only once those are at their max (`ranking`).
When no variant can meet the targets, cost per capacity alone orders them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from wva_ray.core.analyzers.slo import ranking

TREND_MIN_RATIO = -0.5
MIN_RATE_PER_S = ranking.MIN_RATE_PER_S  # below this a variant cannot meet the class (rate* 0)
TREND_MAX_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class SizingSettings:
    level_tau_s: float = 60.0
    trend_tau_s: float = 300.0
    drain_s: float = 120.0
    target_utilization: float = 1.0  # rate* already carries the percentile margins
    down_hysteresis: float = 0.10
    down_delay_s: float = 300.0
    down_window_startups: float = 2.0  # the scale-down window is at least this many start-up delays
    interval_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RateState:
    """Holt state of one model's arrival rate, plus what the next cycle needs (queue, hysteresis clock)."""

    level_per_s: float = 0.0
    trend_per_s2: float = 0.0
    last_s: float | None = None
    last_waiting: float = 0.0
    down_since_s: float | None = None
    down_peak_per_s: float = 0.0


@dataclass(frozen=True, slots=True)
class VariantCapacity:
    """What sizing needs to know about one variant."""

    key: str
    cost_per_replica: float
    rate_per_replica: float  # SLO capacity rate* (req/s); 0 = cannot meet the class here
    ready: int
    pending: int
    current: int
    min_replicas: int = 0
    max_replicas: int | None = None
    startup_s: float = 0.0
    meets_slo: bool = True  # False: rate_per_replica is a best effort; the class's targets are not met here

    @property
    def cost_per_capacity(self) -> float:
        return self.cost_per_replica / self.rate_per_replica if self.rate_per_replica >= MIN_RATE_PER_S else math.inf


@dataclass(frozen=True, slots=True)
class RateEstimate:
    observed_per_s: float
    level_per_s: float
    trend_per_s2: float
    waiting: float  # requests queued now (the backlog)


@dataclass(frozen=True, slots=True)
class SizingResult:
    targets: dict[str, int]
    planned_rate_per_s: float
    required_capacity_per_s: float
    supply_per_s: float
    horizon_s: float
    steps: tuple[str, ...]
    state: RateState


def update_rate(
    state: RateState, completions_per_s: float, waiting: float, now_s: float, s: SizingSettings
) -> tuple[RateState, RateEstimate]:
    """One Holt step on the observed arrival rate (completions + queue growth)."""
    if not (math.isfinite(completions_per_s) and completions_per_s >= 0):
        raise ValueError(f"completions_per_s must be finite and >= 0, got {completions_per_s!r}")
    if not (math.isfinite(waiting) and waiting >= 0):
        raise ValueError(f"waiting must be finite and >= 0, got {waiting!r}")
    if state.last_s is None or now_s <= state.last_s:
        new = replace(state, level_per_s=completions_per_s, trend_per_s2=0.0, last_s=now_s, last_waiting=waiting)
        return new, RateEstimate(completions_per_s, completions_per_s, 0.0, waiting)
    dt = now_s - state.last_s
    # A shrinking queue means completions ran ahead of arrivals (a backlog draining): subtract it too.
    observed = max(0.0, completions_per_s + (waiting - state.last_waiting) / dt)
    a = 1.0 - math.exp(-dt / s.level_tau_s)
    b = 1.0 - math.exp(-dt / s.trend_tau_s)
    predicted = state.level_per_s + state.trend_per_s2 * dt
    level = max(0.0, predicted + a * (observed - predicted))
    trend = state.trend_per_s2 + b * ((level - state.level_per_s) / dt - state.trend_per_s2)
    new = replace(state, level_per_s=level, trend_per_s2=trend, last_s=now_s, last_waiting=waiting)
    return new, RateEstimate(observed, level, trend, waiting)


def forecast(est: RateEstimate, horizon_s: float) -> float:
    """level + trend * horizon, with the trend's contribution bounded relative to the level."""
    delta = est.trend_per_s2 * horizon_s
    base = max(est.level_per_s, 1e-9)
    delta = min(max(delta, TREND_MIN_RATIO * base), TREND_MAX_RATIO * base)
    return max(0.0, est.level_per_s + delta)


def _cap(v: VariantCapacity) -> int:
    return v.max_replicas if v.max_replicas is not None else 1_000_000


def size_variants(
    variants: Sequence[VariantCapacity],
    state: RateState,
    est: RateEstimate,
    now_s: float,
    s: SizingSettings,
) -> SizingResult:
    """Targets per variant key for the planned rate (see the module docstring)."""
    usable = ranking.scale_up_order(variants)
    capable = any(v.meets_slo for v in usable)
    targets = {v.key: v.current for v in variants}
    steps: list[str] = []
    horizon = (usable[0].startup_s if usable else 0.0) + s.interval_s
    backlog_per_s = est.waiting / (s.drain_s + horizon)
    up_rate = max(est.level_per_s, forecast(est, horizon)) + backlog_per_s
    down_rate = max(est.level_per_s, forecast(est, horizon), est.observed_per_s) + backlog_per_s
    required_up = up_rate / s.target_utilization
    required_down = down_rate / s.target_utilization
    supply = sum((v.ready + v.pending) * v.rate_per_replica for v in variants)
    steps.append(
        f"slo sizing: observed {est.observed_per_s:.2f} req/s, level {est.level_per_s:.2f}, trend "
        f"{est.trend_per_s2 * 60:+.3f} req/s per min, backlog {est.waiting:.0f} requests "
        f"({backlog_per_s:.2f} req/s); planned "
        f"{up_rate:.2f} req/s over {horizon:.0f} s; supply {supply:.2f} req/s at SLO"
    )
    if not usable:
        steps.append("slo sizing: no variant can meet the class's targets; holding")
        return SizingResult(targets, up_rate, required_up, supply, horizon, tuple(steps), state)
    new_state = state
    # as in `learned`: a best-effort replica's capacity counts only once no capable variant can grow
    best_effort = ranking.best_effort_supply(usable, lambda v: v.ready + v.pending)
    can_grow = any(v.meets_slo and _cap(v) > targets[v.key] for v in usable)
    counted = supply - best_effort if best_effort and can_grow else supply
    if required_up > counted + 1e-9:
        remaining = required_up - counted
        if not capable:
            steps.append("slo sizing: no variant meets the class's targets at any rate; best effort, cheapest first")
        elif counted < supply:
            steps.append(
                f"slo sizing: {best_effort:.2f} req/s of the supply is best effort (misses the class's targets); "
                "the variants that meet them are sized for the plan"
            )
        added: list[VariantCapacity] = []
        for v in usable:
            if counted < supply and not v.meets_slo:  # the capable ones are full: the best effort counts now
                remaining -= best_effort
                counted = supply
                if remaining <= 1e-9:
                    break
            room = _cap(v) - targets[v.key]
            if room <= 0:
                continue
            need = remaining / v.rate_per_replica
            add = room if need >= room else min(room, math.ceil(need - 1e-9))
            targets[v.key] += add
            remaining -= add * v.rate_per_replica
            added.append(v)
            why = "" if v.meets_slo or not capable else "; it cannot meet the targets, the variants that can are full"
            steps.append(f"slo sizing: +{add} on {v.key} (cost per req/s {v.cost_per_capacity:.3g}{why})")
            if remaining <= 1e-9:
                break
        steps.extend(
            f"slo sizing: {v.key} passed over although cheaper per capacity ({v.cost_per_capacity:.3g} vs "
            f"{dearest:.3g}): it cannot meet the class's targets at any rate; the variants that can come first"
            for v, dearest in ranking.passed_over(usable, added, lambda v: _cap(v) - targets[v.key])
        )
        if remaining > 1e-9:
            steps.append(f"slo sizing: short {remaining:.2f} req/s at every variant's max")
        new_state = replace(state, down_since_s=None)
    elif (retire := ranking.spare_best_effort(variants, targets, supply, required_up)) and not any(
        v.pending for v in variants
    ):
        for key, n in retire.items():  # as in `learned`: no payback window for a replica whose requests miss
            targets[key] -= n
            steps.append(
                f"slo sizing: -{n} on {key} (it cannot meet the class's targets, and the variants that can cover "
                f"{required_up:.2f} req/s without it)"
            )
    else:
        window = max(s.down_delay_s, s.down_window_startups * max(v.startup_s for v in variants))
        peak = max(required_down, state.down_peak_per_s if state.down_since_s is not None else 0.0)
        keep = peak * (1.0 + s.down_hysteresis)
        removable = ranking.removals(variants, targets, supply, keep)
        starting = sum(v.pending for v in variants)
        if starting or not any(removable.values()):
            new_state = replace(state, down_since_s=None, down_peak_per_s=0.0)
            if starting and any(removable.values()):
                steps.append(f"slo sizing: {starting} replica(s) still starting; no scale-down meanwhile")
        elif state.down_since_s is None or now_s - state.down_since_s < window:
            since = now_s if state.down_since_s is None else state.down_since_s
            new_state = replace(state, down_since_s=since, down_peak_per_s=peak)
            steps.append(
                f"slo sizing: {sum(removable.values())} replica(s) spare above {keep:.2f} req/s (peak of the "
                f"window); waiting {window - (now_s - since):.0f} s more before scaling down"
            )
        else:
            by_key = {v.key: v for v in variants}
            for key, n in removable.items():
                if n:
                    targets[key] -= n
                    first = (
                        "; it cannot meet the targets, so it goes first"
                        if capable and not by_key[key].meets_slo
                        else ""
                    )
                    steps.append(
                        f"slo sizing: -{n} on {key} (spare above the window's peak {peak:.2f} req/s "
                        f"for {now_s - state.down_since_s:.0f} s{first})"
                    )
            new_state = replace(state, down_since_s=None, down_peak_per_s=0.0)
    return SizingResult(targets, up_rate, required_up, supply, horizon, tuple(steps), new_state)
