"""Analyzer `learned` on the closed loop's signal, in virtual time: when does it let a fleet go after load falls?

The inputs are built as the production collector builds them in tests/loop/test_closed_loop.py: Poisson arrivals,
requests served in a fixed time, counters scraped every second, `increase(...[1m])` windows (completions, token
counters) and the in-flight gauge, read every 2-s cycle; the load steps 1.5 -> 8 -> 1.5 req/s. The scaler carries
a decision out after `ACT_S` (the loop's HPA syncs every 2 s). Pure: no clock, `now` advances in the loop below.

Bound asserted (docs/analyzers/learned.md): the decision to give replicas back comes no earlier than one payback
window after the fleet last grew, and no later than one payback window + the signal's own lag (the 60-s rate
window) + two spans of measurements (2 x 30 s) + one cycle after the step down; and no reversal within one
start-up delay of any change.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from dataclasses import dataclass

import pytest

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.learned import sizing as siz
from wva_ray.core.analyzers.learned.analyzer import EngineSettings, GroupInput, VariantInput, analyze
from wva_ray.core.analyzers.learned.state import EngineState
from wva_ray.core.analyzers.slo.perf_model import PerfParams

INTERVAL_S = 2.0
RATE_WINDOW_S = 60.0
SPAN_S = 30.0
SERVICE_S = 3.0  # a request is in flight this long
ACT_S = 4.0  # decision -> the Deployment's replicas (gauge scrape + HPA sync)
STARTUP_S = 120.0  # configured start-up delay (the prior; no pod start is observed here)
PROMPT, OUTPUT = 256, 128
# the emulated engine of tests/loop (wva_ray/testing/pod_backend.py LOOP_PROFILE) as a configured profile row
PROFILE = PerfParams(15.0, 1.0, 0.0, 20000.0, 16, 4096.0, 8192)
TARGET = ResolvedTarget("standard", 100, 50.0, 1000.0, "test")
S = EngineSettings()


@dataclass
class Run:
    times: list[float]
    targets: list[int]
    current: list[int]
    window_s: float


def _arrivals(rates: list[tuple[float, float]], end_s: float, seed: int) -> list[float]:
    """Poisson arrival times for a piecewise-constant rate [(from_s, req/s), ...]."""
    rng = random.Random(seed)
    out: list[float] = []
    for i, (start, rate) in enumerate(rates):
        stop = rates[i + 1][0] if i + 1 < len(rates) else end_s
        t = start
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= stop:
                break
            out.append(t)
    return out


def run_loop(rates: list[tuple[float, float]], end_s: float, seed: int = 1, start_replicas: int = 1) -> Run:
    arrivals = _arrivals(rates, end_s, seed)
    state, current, pending_acts = EngineState(), start_replicas, deque[tuple[float, int]]()
    times: list[float] = []
    targets: list[int] = []
    currents: list[int] = []
    window_s = 0.0
    now = 0.0
    while now < end_s:
        while pending_acts and pending_acts[0][0] <= now:
            current = pending_acts.popleft()[1]
        scraped = math.floor(now)  # counters as of the last 1-s scrape
        done = sum(1 for a in arrivals if scraped - RATE_WINDOW_S < a + SERVICE_S <= scraped)
        in_flight = float(sum(1 for a in arrivals if a <= scraped < a + SERVICE_S))
        v = VariantInput(
            key="loop/m1-h100",
            name="m1-h100",
            model_id="m1",
            accelerator="H100",
            cost_per_replica=1.0,
            current=current,
            ready=current,
            pending=0,
            limits=PROFILE,
            min_replicas=1,
            max_replicas=6,
            profile=PROFILE,
            profile_source="test",
            configured_startup_s=STARTUP_S,
            completions_per_s=done / RATE_WINDOW_S,
            in_flight=in_flight,
            prompt_tokens=float(done * PROMPT),
            generation_tokens=float(done * OUTPUT),
            completions=float(done),
        )
        res = analyze(GroupInput("loop", "m1", TARGET, (v,)), state, S, now)
        state = res.state
        target = res.targets[v.key]
        if target != (pending_acts[-1][1] if pending_acts else current):
            pending_acts.append((now + ACT_S, target))
        window_s = siz.down_window_s(
            [siz.Capacity(v.key, 1.0, 1.0, current, current, 0, STARTUP_S, payback_s=STARTUP_S)], S.sizing
        )
        times.append(now)
        targets.append(target)
        currents.append(current)
        now += INTERVAL_S
    return Run(times, targets, currents, window_s)


def _changes(run: Run) -> list[tuple[float, int, int]]:
    out, last = [], run.current[0]
    for t, n in zip(run.times, run.current, strict=True):
        if n != last:
            out.append((t, last, n))
            last = n
    return out


BASE, PEAK = 1.5, 8.0


@pytest.mark.parametrize(
    ("peak_s", "seed"),
    [
        pytest.param(30.0, 1, id="30-s peak as in the closed loop"),
        pytest.param(30.0, 2, id="30-s peak, another draw"),
        pytest.param(240.0, 3, id="4-min peak"),
        pytest.param(600.0, 4, id="10-min peak"),
    ],
)
def test_a_step_down_is_given_back_within_the_window_plus_the_signal_lag(peak_s: float, seed: int) -> None:
    t_up = 400.0  # past the 300-s warm-up of the trend, as in a controller that has run a while
    t_down = t_up + peak_s
    run = run_loop([(0.0, BASE), (t_up, PEAK), (t_down, BASE)], t_down + 900.0, seed)
    changes = _changes(run)
    grown = [t for t, a, b in changes if b > a and t < t_down + 60.0]
    assert grown, f"no scale-up on the step to {PEAK} req/s: {changes}"
    peak_fleet = max(run.current)
    assert peak_fleet >= 3, changes
    # the decision that brings the fleet back to at most 2 replicas (what 1.5 req/s needs here)
    decided = next(t for t, n in zip(run.times, run.targets, strict=True) if t >= t_down and n <= 2)
    lag_bound = run.window_s + RATE_WINDOW_S + 2 * SPAN_S + INTERVAL_S
    assert decided - t_down <= lag_bound, (decided - t_down, changes)
    assert decided - max(grown) >= run.window_s, (decided, grown)  # a whole window after the fleet last grew


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed {s}") for s in range(1, 4)])
def test_no_reversal_within_one_start_up(seed: int) -> None:
    """Up then down (or down then up) never within one start-up delay, on a loop with two steps of load."""
    run = run_loop([(0.0, BASE), (400.0, PEAK), (430.0, BASE), (900.0, 4.0), (1200.0, BASE)], 1800.0, seed)
    changes = _changes(run)
    for (t0, a0, b0), (t1, a1, b1) in itertools.pairwise(changes):
        if (b0 - a0) * (b1 - a1) < 0:
            assert t1 - t0 >= STARTUP_S, changes


def test_steady_base_load_is_not_scaled_down_below_its_need() -> None:
    """1.5 req/s steady for 15 minutes from 3 replicas: the fleet comes down once, and stays."""
    run = run_loop([(0.0, BASE)], 900.0, seed=5, start_replicas=3)
    changes = _changes(run)
    assert changes and all(b < a for _, a, b in changes), changes
    assert 1 <= run.current[-1] <= 2
