"""Demand of one model group: arrivals (not completions), their spread, and a short-horizon forecast. Pure.

Arrivals over the last cycle = completions + growth of what is in flight (running + waiting on every pod, plus the
gateway's flow-control queue when present): completions alone saturate at the fleet's capacity during an
overload, exactly when the arrival rate matters most. A shrinking backlog counts negatively (the fleet is
draining a past burst, not serving new arrivals); the estimate is floored at 0.

Level and trend, with time constants (irregular cycle lengths are fine): the level is the arrivals exponentially
smoothed (`level_tau_s`), the trend the level's slope smoothed (`trend_tau_s`). Unlike Holt's method the trend is
not added to the level's own prediction: there a trend that outlived a rise and fall (its time constant is five
minutes) held the level above the fallen arrivals by up to trend x level_tau_s for minutes, and the fleet with it.
A trend the level contradicts over a whole span (a positive trend while the level fell, or the reverse) is dropped.
Forecast over a horizon H: level + trend x (level_tau_s + H) (the first term is the smoothing's own lag in a
steady trend), the trend's part bounded to [-50 %, +100 %] of the level, and none before `trend_tau_s` of
history. Daily seasonality once a full day of history exists: 24 hourly bins of the smoothed rate; the forecast
is then also the level scaled by the ratio of the bin at `now + horizon` to the bin at `now`, and the larger of
the two forecasts is used.

Spread: a robust scale of the changes between consecutive span rates, a span being at least `spread_span_s` long
(one cycle when the controller's interval is that long or longer; several cycles aggregated when it is shorter):
the upper quartile of the recent absolute changes / (1.15 x sqrt 2) (the sd of the rate for normal noise, more
for the heavy tails of bursty arrivals), never under the Poisson sd of a span's count (the 1-m rate windows smooth
the span rates, and their changes alone read a steady 1.5 req/s stream as 0.04 req/s of spread instead of 0.22).
It holds Poisson noise and the workload's burstiness; sizing adds `z` of it on top of the forecast, so a smooth
workload gets little headroom and a bursty one more. A ramp is a run of equal small changes and does not read as
burstiness; a step seen through a 1-m rate window is two or three large changes, and a short peak (a step up and
down) four or five: they do raise the headroom, for as long as they are among the recent changes. "Recent" is the
last `spread_window` changes, or with `spread_memory_s` (the analyzer passes its scale-down window) the changes of
about that long: a burst's headroom is kept as long as the capacity it bought, then both go together. (Over 12
changes, 6 minutes at 30-s spans, a 30-s peak held the headroom, and a fleet of twice the need, for 6 minutes.)
While a backlog of more than `backlog_cycles` cycles of arrivals waits (an overload: completions saturate,
clients give up) no change is recorded at all.
Why a minimum span: the in-flight growth of one short cycle is mostly the noise of the in-flight count itself
(its sd over a cycle of dt seconds scales as 1/dt), and Poisson counting noise scales as 1/sqrt(dt); measured
per 2-s cycle they made a steady Poisson stream look bursty and bought a replica the SLO did not need. Over a span
the in-flight growth telescopes to (end - start) / span, so the same workload gets the same headroom whatever
the controller's interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

HOURS = 24
DAY_S = 86_400.0
TREND_MIN_RATIO = -0.5
TREND_MAX_RATIO = 1.0
SEASON_MAX_RATIO = 3.0
MIN_RESIDUALS = 4


@dataclass(frozen=True, slots=True)
class DemandSettings:
    level_tau_s: float = 60.0
    trend_tau_s: float = 300.0
    spread_window: int = 12  # cycles
    backlog_cycles: float = 0.25  # a backlog above this many cycles of arrivals: no residual is recorded
    season_tau_s: float = 900.0
    spread_span_s: float = 30.0  # residuals are measured over at least this long (cycles aggregated)


@dataclass(frozen=True, slots=True)
class DemandState:
    level_per_s: float = 0.0
    trend_per_s2: float = 0.0
    residuals: tuple[float, ...] = ()  # the last one-step residuals (req/s), newest last
    last_s: float | None = None
    last_in_flight: float = 0.0
    first_s: float | None = None
    daily: tuple[float, ...] = ()  # HOURS bins (req/s), empty until the first observation
    samples: int = 0
    span_s: float = 0.0  # the span being aggregated: seconds so far,
    span_arrivals: float = 0.0  # arrivals counted in it (observed x dt),
    span_overload: bool = False  # and whether an overload cycle fell in it (the span is then dropped)
    last_span_rate: float | None = None  # the previous span's rate (None after a dropped span)
    span_level: float | None = None  # the level when the previous span closed (a trend's check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "levelPerS": self.level_per_s,
            "trendPerS2": self.trend_per_s2,
            "residuals": list(self.residuals),
            "lastS": self.last_s,
            "lastInFlight": self.last_in_flight,
            "firstS": self.first_s,
            "daily": list(self.daily),
            "samples": self.samples,
            "spanS": self.span_s,
            "spanArrivals": self.span_arrivals,
            "spanOverload": self.span_overload,
            "lastSpanRate": self.last_span_rate,
            "spanLevel": self.span_level,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> DemandState:
        try:
            last, first, span_rate = data.get("lastS"), data.get("firstS"), data.get("lastSpanRate")
            span_level = data.get("spanLevel")
            daily = tuple(float(v) for v in data.get("daily", ()))
            out = DemandState(
                float(data.get("levelPerS", 0.0)),
                float(data.get("trendPerS2", 0.0)),
                tuple(float(v) for v in data.get("residuals", ())),
                None if last is None else float(last),
                float(data.get("lastInFlight", 0.0)),
                None if first is None else float(first),
                daily,
                int(data.get("samples", 0)),
                float(data.get("spanS", 0.0)),
                float(data.get("spanArrivals", 0.0)),
                bool(data.get("spanOverload", False)),
                None if span_rate is None else float(span_rate),
                None if span_level is None else float(span_level),
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"demand state: invalid value ({err})") from err
        if daily and len(daily) != HOURS:
            raise ValueError(f"demand state: daily needs {HOURS} bins, got {len(daily)}")
        return out


@dataclass(frozen=True, slots=True)
class DemandEstimate:
    observed_per_s: float
    level_per_s: float
    trend_per_s2: float
    spread_per_s: float  # sd of the arrival rate over spans of at least spread_span_s
    in_flight: float
    seasonal: bool
    span_rate_per_s: float | None = None  # the arrival rate of the span that closed this cycle, if one did
    lag_s: float = 0.0  # how far the level lags a steady trend (level_tau_s)


def _hour(t_s: float) -> int:
    return int((t_s % DAY_S) // 3600.0)


def observe(
    state: DemandState,
    completions_per_s: float,
    in_flight: float,
    now_s: float,
    s: DemandSettings = DemandSettings(),
    backlog: float = 0.0,
    spread_memory_s: float | None = None,
) -> tuple[DemandState, DemandEstimate]:
    """One cycle: arrivals = completions + d(in flight)/dt, then one Holt step and the residual spread.

    `spread_memory_s`: the spread is taken over the changes of about that many seconds of spans (at least
    MIN_RESIDUALS, at most `spread_window`); None = the last `spread_window` changes."""
    if not (math.isfinite(completions_per_s) and completions_per_s >= 0):
        raise ValueError(f"completions_per_s must be finite and >= 0, got {completions_per_s!r}")
    if not (math.isfinite(in_flight) and in_flight >= 0):
        raise ValueError(f"in_flight must be finite and >= 0, got {in_flight!r}")
    if state.last_s is None or now_s <= state.last_s:
        daily = state.daily or tuple([completions_per_s] * HOURS)
        new = replace(
            state,
            level_per_s=completions_per_s,
            trend_per_s2=0.0,
            last_s=now_s,
            last_in_flight=in_flight,
            first_s=state.first_s if state.first_s is not None else now_s,
            daily=daily,
            samples=state.samples + 1,
        )
        spread = spread_of(state.residuals)
        return new, DemandEstimate(completions_per_s, completions_per_s, 0.0, spread, in_flight, False)
    dt = now_s - state.last_s
    observed = max(0.0, completions_per_s + (in_flight - state.last_in_flight) / dt)
    a = 1.0 - math.exp(-dt / s.level_tau_s)
    b = 1.0 - math.exp(-dt / s.trend_tau_s)
    # the level follows the arrivals alone (the trend is not added to its prediction, as Holt's method does): a
    # trend that outlived a rise then held the level above the fallen arrivals (and below after a fall), by up to
    # trend x level_tau_s, for minutes; the forecast adds the level's lag back (trend x level_tau_s) instead
    level = max(0.0, state.level_per_s + a * (observed - state.level_per_s))
    trend = state.trend_per_s2 + b * ((level - state.level_per_s) / dt - state.trend_per_s2)
    residuals = state.residuals  # changes between consecutive span rates
    span_s = state.span_s + dt
    span_arrivals = state.span_arrivals + observed * dt
    last_rate = state.last_span_rate
    span_level = state.span_level
    closed: float | None = None
    overload = state.span_overload or (
        backlog > s.backlog_cycles * level * max(dt, s.spread_span_s) and state.samples > 1
    )
    if span_s >= s.spread_span_s - 1e-9:
        rate = span_arrivals / span_s
        closed = rate
        # a trend the smoothed level contradicts over a whole span is dropped: after a rise and a fall the Holt
        # trend (time constant trend_tau_s) stays positive for minutes, and in Holt's prediction it held the level
        # (and with it the fleet) up long after the arrivals had fallen
        if span_level is not None and ((trend > 0 and level < span_level) or (trend < 0 and level > span_level)):
            trend = 0.0
        span_level = level
        if overload:
            last_rate = None
        else:
            if last_rate is not None:
                residuals = (*residuals, rate - last_rate)[-s.spread_window :]
            last_rate = rate
        span_s, span_arrivals, overload = 0.0, 0.0, False
    bins = list(state.daily or [level] * HOURS)
    h = _hour(now_s)
    bins[h] += (1.0 - math.exp(-dt / s.season_tau_s)) * (level - bins[h])
    first = state.first_s if state.first_s is not None else now_s
    new = DemandState(
        level,
        trend,
        residuals,
        now_s,
        in_flight,
        first,
        tuple(bins),
        state.samples + 1,
        span_s,
        span_arrivals,
        overload,
        last_rate,
        span_level,
    )
    seasonal = now_s - first >= DAY_S
    recent = residuals
    if spread_memory_s is not None:
        keep = max(MIN_RESIDUALS, math.ceil(spread_memory_s / max(s.spread_span_s, dt) - 1e-9))
        recent = residuals[-keep:]
    spread = spread_of(recent)
    poisson = math.sqrt(level / max(dt, s.spread_span_s))  # the sd of a span's count, as a rate
    if len(recent) < MIN_RESIDUALS:  # too few to tell burstiness from noise: twice the Poisson sd
        spread = 2.0 * poisson
    # never under the Poisson sd: the rate windows (1 m) smooth the span rates, and their changes alone read a
    # steady stream as smoother than its own counting noise (0.04 req/s at 1.5 req/s in 30-s spans, vs 0.22)
    spread = max(spread, poisson)
    # no trend before one trend time constant of history: the first levels climb from a partly filled rate window,
    # and that warm-up read as growth (x a start-up horizon of minutes) had doubled the forecast of a steady stream
    trend_known = now_s - first >= s.trend_tau_s
    return new, DemandEstimate(
        observed, level, trend if trend_known else 0.0, spread, in_flight, seasonal, closed, s.level_tau_s
    )


def spread_of(residuals: tuple[float, ...]) -> float:
    """The sd of the rate from changes between consecutive spans: the upper quartile of their absolute values
    / (1.15 x sqrt 2) (= the sd for normal noise, the difference of two having twice its variance; larger for the
    heavy tails of bursty arrivals, which is the point); 0 without any."""
    if not residuals:
        return 0.0
    values = sorted(abs(r) for r in residuals)
    pos = 0.75 * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    q75 = values[lo] + (pos - lo) * (values[hi] - values[lo])
    return q75 / (1.15 * math.sqrt(2.0))


def forecast(state: DemandState, est: DemandEstimate, now_s: float, horizon_s: float) -> float:
    """The rate expected `horizon_s` ahead: level + trend x (the level's lag + horizon), the trend's part bounded,
    and the daily profile once it is known."""
    base = max(est.level_per_s, 1e-9)
    delta = min(max(est.trend_per_s2 * (est.lag_s + horizon_s), TREND_MIN_RATIO * base), TREND_MAX_RATIO * base)
    holt = max(0.0, est.level_per_s + delta)
    if not est.seasonal or len(state.daily) != HOURS:
        return holt
    now_bin = state.daily[_hour(now_s)]
    ahead = state.daily[_hour(now_s + horizon_s)]
    if now_bin <= 1e-9:
        return holt
    return max(holt, min(est.level_per_s * ahead / now_bin, SEASON_MAX_RATIO * base))
