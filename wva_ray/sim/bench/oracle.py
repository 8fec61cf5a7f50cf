"""Lower bounds on GPU-hours at a given SLO attainment: the clairvoyant oracle and the causal bound.

The oracle (performance-anchors.md section 4, as corrected after the first full run) is a linear program over a
time grid of `interval_s`:

    minimise   GPU-hours billed = sum_t sum_v g_v * dt * (ready_{v,t} + starting_{v,t})
    subject to ready_{v,t} <= ready_{v,t-1} + starts_{v,t-d_v}     (start-up: d_v = floor(D_v / dt), billed)
               ready_{v,-1} = the scenario's initial fleet
               good_{v,t} <= G_v(ready_{v,t})                        (pooled goodput, concave upper envelope)
               sum_v good_{v,t} <= demand_{m,t}                      (requests of model m arriving in t that can
                                                                      meet the SLO at all, on an idle replica)
               sum_{v of m,t} good_{v,t} >= A_m * requests of m      (attainment target per model)
               GPU budget per accelerator type over ready + starting; ready + starting <= max replicas.

Targets 0.90 / 0.95 / 0.99 ask every model for that attainment; a policy is compared with the oracle at its own
per-model attainments. Max attainments are over all requests.

Every relaxation points the same way - continuous replica counts, goodput at its maximum over the offered load
(`goodput.GoodputCurve`; per replica at the largest pool for models with several variants, since a mixed pool is
not measured), start-up rounded down, draining free, no minimum replicas - so any policy's GPU-hours at
attainment >= A are >= the oracle's at A (up to the noise of the simulation itself).

The causal bound adds what no non-clairvoyant policy escapes: capacity for a demand level exists only
`lag_s` (one scrape + the start-up delay) after that level was first observed, beyond the initial fleet's:
good_{m,t} <= max(initial goodput, max over s <= t - lag of demand_{m,s}). Its maximum attainment is the best
any reactive policy can reach; where an oracle target exceeds it, the causal GPU-hours are reported as
unreachable (None). Pure computation (scipy's HiGHS), no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from wva_ray.sim.bench.goodput import GoodputCurve
from wva_ray.sim.model.traces import FloatArray

TARGETS = (0.90, 0.95, 0.99)


@dataclass(frozen=True)
class BoundVariant:
    name: str
    model: str
    gpus: int
    accelerator: str
    startup_s: float
    initial: int
    max_replicas: int
    curve: GoodputCurve


@dataclass(frozen=True)
class BoundInput:
    interval_s: float
    feasible: dict[str, FloatArray]  # per model: requests per interval that can meet the SLO on an idle replica
    requests: dict[str, int]  # per model: all its requests (the attainment denominator)
    variants: list[BoundVariant]
    gpu_budget: dict[str, int] | None
    lag_s: dict[str, float]  # per model: detection + start-up, for the causal bound


@dataclass(frozen=True)
class Bound:
    gpu_hours: float | None  # None: the target is unreachable
    status: str


class _Rows:
    def __init__(self) -> None:
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.ub: list[float] = []
        self.n = 0

    def add(self, entries: list[tuple[int, float]], upper: float) -> None:
        for col, val in entries:
            self.r.append(self.n)
            self.c.append(col)
            self.v.append(val)
        self.ub.append(upper)
        self.n += 1


class _Program:
    """The LP's variables and constraints, built once per (input, causal)."""

    def __init__(self, inp: BoundInput, causal: bool) -> None:
        self.inp = inp
        dt = inp.interval_s
        self.T = T = max((len(d) for d in inp.feasible.values()), default=0)
        vs = inp.variants
        self.nv = nv = len(vs)
        self.d = [max(0, math.floor(v.startup_s / dt + 1e-9)) for v in vs]
        # columns: ready, starts, good per variant and interval
        self.ncol = 3 * nv * T
        hours = dt / 3600.0
        cost = np.zeros(self.ncol)
        for j, v in enumerate(vs):
            for t in range(T):
                cost[self.ready(j, t)] = v.gpus * hours
                cost[self.start(j, t)] = v.gpus * hours * min(self.d[j], T - t)
        self.cost = cost
        rows = _Rows()
        for j, v in enumerate(vs):
            for t in range(T):  # ready_t - ready_{t-1} - starts_{t-d} <= initial at t=0 else 0
                e = [(self.ready(j, t), 1.0)]
                if t >= 1:
                    e.append((self.ready(j, t - 1), -1.0))
                if t - self.d[j] >= 0:
                    e.append((self.start(j, t - self.d[j]), -1.0))
                rows.add(e, float(v.initial) if t == 0 else 0.0)
                for a, b in v.curve.envelope:  # good <= (a * ready + b) * dt (requests)
                    rows.add([(self.good(j, t), 1.0), (self.ready(j, t), -a * dt)], b * dt)
                rows.add(self._billed(j, t, 1.0), float(v.max_replicas))
        for model, demand in inp.feasible.items():
            members = [j for j, v in enumerate(vs) if v.model == model]
            cap = self._causal_cap(model, members) if causal else None
            for t in range(T):
                upper = float(demand[t]) if t < len(demand) else 0.0
                if cap is not None:
                    upper = min(upper, float(cap[t]))
                rows.add([(self.good(j, t), 1.0) for j in members], upper)
        if inp.gpu_budget:
            for acc, limit in inp.gpu_budget.items():
                members = [j for j, v in enumerate(vs) if v.accelerator == acc]
                for t in range(T):
                    e = [x for j in members for x in self._billed(j, t, float(vs[j].gpus))]
                    if e:
                        rows.add(e, float(limit))
        self.models = list(inp.feasible)
        self.attain_row = rows.n  # one row per model: -sum good <= -(its target requests)
        for model in self.models:
            members = [j for j, v in enumerate(vs) if v.model == model]
            rows.add([(self.good(j, t), -1.0) for j in members for t in range(T)], 0.0)
        self.rows = rows
        self.a = coo_matrix((rows.v, (rows.r, rows.c)), shape=(rows.n, self.ncol)).tocsr()
        col_upper = np.full(self.ncol, np.inf)
        for j, v in enumerate(vs):
            for t in range(T):
                col_upper[self.ready(j, t)] = v.max_replicas
                col_upper[self.start(j, t)] = v.max_replicas
        self.bounds = list(zip(np.zeros(self.ncol).tolist(), col_upper.tolist(), strict=True))

    def ready(self, j: int, t: int) -> int:
        return 3 * j * self.T + t

    def start(self, j: int, t: int) -> int:
        return 3 * j * self.T + self.T + t

    def good(self, j: int, t: int) -> int:
        return 3 * j * self.T + 2 * self.T + t

    def _billed(self, j: int, t: int, w: float) -> list[tuple[int, float]]:
        e = [(self.ready(j, t), w)]
        e += [(self.start(j, tau), w) for tau in range(max(0, t - self.d[j] + 1), t + 1)]
        return e

    def _causal_cap(self, model: str, members: list[int]) -> FloatArray:
        """Per interval: the most requests a reactive policy can have capacity for."""
        inp = self.inp
        dt = inp.interval_s
        demand = inp.feasible[model]
        base = sum(inp.variants[j].curve.at(inp.variants[j].initial) for j in members) * dt
        lag = max(1, math.ceil(inp.lag_s.get(model, 0.0) / dt - 1e-9))
        seen = np.maximum.accumulate(demand) if len(demand) else demand
        cap = np.full(self.T, base)
        for t in range(self.T):
            if t - lag >= 0:
                cap[t] = max(base, float(seen[t - lag]))
        return cap

    def solve(self, attainment: Mapping[str, float]) -> Bound:
        """Least GPU-hours with each model's attainment >= `attainment[model]` (a missing model: 0)."""
        ub = np.array(self.rows.ub)
        for k, model in enumerate(self.models):
            ub[self.attain_row + k] = -attainment.get(model, 0.0) * self.inp.requests.get(model, 0)
        res = linprog(self.cost, A_ub=self.a, b_ub=ub, bounds=self.bounds, method="highs")
        if res.status != 0:
            return Bound(None, str(res.message))
        return Bound(float(res.fun), "optimal")

    def max_good(self) -> float:
        ub = np.array(self.rows.ub)
        ub[self.attain_row : self.attain_row + len(self.models)] = 0.0
        obj = np.zeros(self.ncol)
        for j in range(self.nv):
            for t in range(self.T):
                obj[self.good(j, t)] = -1.0
        res = linprog(obj, A_ub=self.a, b_ub=ub, bounds=self.bounds, method="highs")
        return float(-res.fun) if res.status == 0 else 0.0


@dataclass(frozen=True)
class Bounds:
    """The oracle and the causal bound of one scenario instance (one seed)."""

    oracle_max_attainment: float
    causal_max_attainment: float
    oracle_gpu_hours: dict[float, float | None]  # per target attainment (every model at least the target)
    causal_gpu_hours: dict[float, float | None]
    solve_s: float
    _oracle: _Program
    _causal: _Program

    def oracle_at(self, attainment: Mapping[str, float]) -> float | None:
        """The oracle's GPU-hours at these per-model attainments (None: the bound says they are unreachable)."""
        return self._oracle.solve(attainment).gpu_hours

    def causal_at(self, attainment: Mapping[str, float]) -> float | None:
        """The causal bound's GPU-hours at these per-model attainments (None: no reactive policy reaches them)."""
        return self._causal.solve(attainment).gpu_hours

    def as_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "oracle_max_attainment": self.oracle_max_attainment,
            "causal_max_attainment": self.causal_max_attainment,
            "bound_solve_s": self.solve_s,
        }
        for a in TARGETS:
            out[f"oracle_gpu_hours_at_{a:.2f}"] = self.oracle_gpu_hours[a]
            out[f"causal_gpu_hours_at_{a:.2f}"] = self.causal_gpu_hours[a]
        return out


def solve_bounds(inp: BoundInput, targets: tuple[float, ...] = TARGETS) -> Bounds:
    t0 = time.perf_counter()
    total = max(sum(inp.requests.values()), 1)
    oracle = _Program(inp, causal=False)
    causal = _Program(inp, causal=True)
    o_max = min(1.0, oracle.max_good() / total)
    c_max = min(o_max, causal.max_good() / total)
    o_at = {a: oracle.solve(dict.fromkeys(inp.requests, a)).gpu_hours for a in targets}
    c_at = {a: causal.solve(dict.fromkeys(inp.requests, a)).gpu_hours for a in targets}
    return Bounds(o_max, c_max, o_at, c_at, time.perf_counter() - t0, oracle, causal)
