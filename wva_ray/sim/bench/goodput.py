"""Pooled goodput of n replicas, measured in the simulator itself: what the oracle's capacity constraint uses.

`G(n)` = the largest rate of SLO-meeting completions that n replicas of one variant behind the simulator's router
reach under Poisson arrivals of the model's workload, maximised over the offered rate (a golden-section search;
goodput = offered rate x attainment). Measured at n = 1, 2, 4, ... up to the pool that covers the peak demand;
between measured sizes the curve is bounded from above by `n x G(n_b) / n_b` (per-replica goodput does not fall
as a pool grows), then made concave (the smallest concave majorant), so that the oracle built on it stays a
lower bound on GPU-hours. Each probe is a run of `Simulation` with a fixed fleet. Pure computation, no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.scenario import SloClass
from wva_ray.sim.model.traces import IntArray, Trace
from wva_ray.sim.observe import Observation
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
MARGIN = 1.05  # measured goodput is raised by 5 %: a search or noise error must not make the bound too high


class _Hold:
    name = "hold"
    interval_s = 1e9

    def decide(self, obs: Observation) -> Mapping[str, int]:
        return {}


@dataclass(frozen=True)
class GoodputCurve:
    """Measured points and the concave upper envelope used by the oracle (segments a*n + b)."""

    measured: dict[int, float]  # n -> goodput req/s
    envelope: tuple[tuple[float, float], ...]  # (slope, intercept) of each segment
    per_replica_top: float  # goodput per replica at the largest measured pool

    def at(self, n: float) -> float:
        return min(a * n + b for a, b in self.envelope) if self.envelope else 0.0


def _probe(
    profile: Profile,
    prompts: IntArray,
    outputs: IntArray,
    slo: SloClass,
    n: int,
    rate: float,
    duration_s: float,
    fidelity: Fidelity,
    seed: int,
) -> float:
    rng = np.random.default_rng(seed)
    count = max(1, int(rate * duration_s * 1.2) + 50)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, count))
    arrivals = arrivals[arrivals < duration_s]
    pick = rng.integers(0, len(prompts), len(arrivals))
    trace = Trace(arrivals, prompts[pick].astype(np.int64), outputs[pick].astype(np.int64))
    var = SimVariant("probe", "probe", profile, 0.0, 1.0, n, n, n)
    sim = Simulation(
        [SimModel("probe", 1, trace)],
        [var],
        _Hold(),
        duration_s,
        seed=seed,
        scrape_interval_s=duration_s,
        record_interval_s=duration_s,
        fidelity=fidelity,
    )
    res = sim.run()
    log = res.requests["probe"]
    warm = log.arrival_s >= 0.2 * duration_s
    with np.errstate(invalid="ignore"):
        ok = (log.ttft_s <= slo.ttft_s) & (log.itl_s <= slo.itl_s)
    return float(ok[warm].sum()) / (0.8 * duration_s)


def max_goodput(
    profile: Profile,
    prompts: IntArray,
    outputs: IntArray,
    slo: SloClass,
    n: int,
    guess_rps: float,
    duration_s: float,
    fidelity: Fidelity,
    iterations: int = 7,
    seed: int = 0,
) -> float:
    """max over the offered rate of goodput for n pooled replicas (golden-section on [0.3, 2.5] x guess)."""
    lo, hi = 0.3 * guess_rps, 2.5 * guess_rps
    cache: dict[float, float] = {}

    def f(rate: float) -> float:
        if rate not in cache:
            cache[rate] = _probe(profile, prompts, outputs, slo, n, rate, duration_s, fidelity, seed)
        return cache[rate]

    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    for _ in range(iterations):
        if f(a) >= f(b):
            hi, b = b, a
            a = hi - _GOLDEN * (hi - lo)
        else:
            lo, a = a, b
            b = lo + _GOLDEN * (hi - lo)
    best_rate = max(cache, key=lambda r: cache[r])
    if best_rate >= 0.95 * max(cache):  # the knee lies above the bracket: search once more, higher
        return max(
            max(cache.values()),
            max_goodput(profile, prompts, outputs, slo, n, 2.0 * guess_rps, duration_s, fidelity, iterations, seed),
        )
    return max(cache.values())


def _concave_majorant(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Segments (slope, intercept) of the upper concave hull of `points` (sorted by x, starting at (0, 0))."""
    hull: list[tuple[float, float]] = []
    for p in sorted(points):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    segs = []
    for (x1, y1), (x2, y2) in itertools.pairwise(hull):
        slope = (y2 - y1) / (x2 - x1)
        segs.append((slope, y1 - slope * x1))
    if hull:
        segs.append((0.0, hull[-1][1]))  # flat beyond the largest pool measured (it already covers the peak)
    return tuple(segs)


def goodput_curve(
    profile: Profile,
    prompts: IntArray,
    outputs: IntArray,
    slo: SloClass,
    need_rps: float,
    max_replicas: int,
    single_rps_guess: float,
    fidelity: Fidelity,
    duration_s: float = 120.0,
    iterations: int = 7,
    largest_pool: int = 16,
    margin: float = MARGIN,
) -> GoodputCurve:
    """G(n) at n = 1, 2, 4, ... until G covers `need_rps` (or `max_replicas`, or `largest_pool`: beyond it the
    per-replica goodput of the largest pool is used), each raised by `margin` (search and noise error, in the
    bound's favour), and its concave upper envelope."""
    measured: dict[int, float] = {}
    n = 1
    guess = max(single_rps_guess, 1e-3)
    while True:
        g = margin * max_goodput(profile, prompts, outputs, slo, n, guess * n, duration_s, fidelity, iterations)
        measured[n] = g
        guess = max(guess, g / n)
        if g >= need_rps or n >= max_replicas:
            break
        if 2 * n > largest_pool:
            k = min(max_replicas, max(n + 1, math.ceil(need_rps / max(g / n, 1e-9))))
            measured[k] = g / n * k  # extrapolated at the largest pool's per-replica goodput
            break
        n = min(2 * n, max_replicas)
    sizes = sorted(measured)
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    prev = 0
    for nb in sizes:
        per = measured[nb] / nb
        points += [(float(k), k * per) for k in range(prev + 1, nb + 1)]
        prev = nb
    top = sizes[-1]
    return GoodputCurve(measured, _concave_majorant(points), measured[top] / top)
