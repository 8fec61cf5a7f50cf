"""Offline-optimal allocation with perfect foresight (performance-anchors.md section 4).

Owns the MILP (scipy's HiGHS via `scipy.optimize.milp`): ready replicas n and starts s per variant and
interval, unmet demand u per model; starting replicas are billed for the start-up delay; capacity per
replica = the simulator's own SLO capacity; per-accelerator GPU budgets; unmet demand penalised by
priority. Also its LP relaxation (a lower bound) and the fluid lower bound. Pure computation, no I/O.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from wva_ray.sim.model.traces import FloatArray


@dataclass(frozen=True)
class OracleVariant:
    name: str
    model: str
    capacity_rps: float
    cost_per_replica_hour: float
    gpus: int
    accelerator: str
    startup_s: float
    initial: int
    max_replicas: int


@dataclass(frozen=True)
class OracleInput:
    interval_s: float
    demand_rps: dict[str, FloatArray]  # per model, one value per interval
    variants: list[OracleVariant]
    gpu_budget: dict[str, int] | None
    priority: dict[str, int]  # lower = more important


@dataclass(frozen=True)
class OracleResult:
    status: str
    billed: dict[str, list[int]]  # ready + starting replicas per variant per interval
    gpu_hours: float
    cost: float
    lp_gpu_hours: float
    lp_cost: float
    fluid_gpu_hours: float
    fluid_cost: float
    unmet_rps_intervals: float
    solve_s: float


def fluid_bound(inp: OracleInput) -> tuple[float, float]:
    """(GPU-hours, cost) of serving every interval's demand at the best ratio, no integrality, no start-up."""
    hours = inp.interval_s / 3600.0
    gpu = 0.0
    cost = 0.0
    for model, demand in inp.demand_rps.items():
        vs = [v for v in inp.variants if v.model == model and v.capacity_rps > 0]
        if not vs:
            continue
        total = float(demand.sum()) * hours
        gpu += total * min(v.gpus / v.capacity_rps for v in vs)
        cost += total * min(v.cost_per_replica_hour / v.capacity_rps for v in vs)
    return gpu, cost


def _weights(priority: dict[str, int]) -> dict[str, float]:
    ranks = sorted(set(priority.values()))
    return {m: 10.0 ** (len(ranks) - 1 - ranks.index(p)) for m, p in priority.items()}


def solve(inp: OracleInput, time_limit_s: float = 120.0, mip_gap: float = 0.005) -> OracleResult:
    t0 = time.perf_counter()
    horizon = max((len(d) for d in inp.demand_rps.values()), default=0)
    hours = inp.interval_s / 3600.0
    variants = [v for v in inp.variants if v.capacity_rps > 0]
    models = list(inp.demand_rps)
    nv, nm, horizon_t = len(variants), len(models), horizon

    def n_idx(j: int, t: int) -> int:
        return j * 2 * horizon_t + t

    def s_idx(j: int, t: int) -> int:
        return j * 2 * horizon_t + horizon_t + t

    def u_idx(m: int, t: int) -> int:
        return nv * 2 * horizon_t + m * horizon_t + t

    nvar = nv * 2 * horizon_t + nm * horizon_t
    delays = [max(1, math.ceil(v.startup_s / inp.interval_s - 1e-9)) if v.startup_s > 0 else 0 for v in variants]

    worst = max((v.cost_per_replica_hour / v.capacity_rps for v in variants), default=1.0)
    weight = _weights(inp.priority)
    c = np.zeros(nvar)
    for j, v in enumerate(variants):
        d = delays[j]
        for t in range(horizon_t):
            c[n_idx(j, t)] = v.cost_per_replica_hour * hours
            c[s_idx(j, t)] = v.cost_per_replica_hour * hours * min(d, horizon_t - t)
    for m, model in enumerate(models):
        pen = 100.0 * worst * hours * weight.get(model, 1.0)
        for t in range(horizon_t):
            c[u_idx(m, t)] = pen

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lb: list[float] = []
    ub: list[float] = []
    r = 0

    def add(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        nonlocal r
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lb.append(lo)
        ub.append(hi)
        r += 1

    entries: list[tuple[int, float]]
    for j, v in enumerate(variants):  # n_t <= n_{t-1} + s_{t-d}
        d = delays[j]
        for t in range(horizon_t):
            entries = [(n_idx(j, t), 1.0)]
            if t >= 1:
                entries.append((n_idx(j, t - 1), -1.0))
            if d == 0:
                entries.append((s_idx(j, t), -1.0))
            elif t - d >= 0:
                entries.append((s_idx(j, t - d), -1.0))
            add(entries, -np.inf, float(v.initial) if t == 0 else 0.0)
    for m, model in enumerate(models):  # sum mu n + u >= demand
        demand = inp.demand_rps[model]
        for t in range(horizon_t):
            entries = [(n_idx(j, t), v.capacity_rps) for j, v in enumerate(variants) if v.model == model]
            entries.append((u_idx(m, t), 1.0))
            add(entries, float(demand[t]) if t < len(demand) else 0.0, np.inf)
    if inp.gpu_budget:
        for acc, cap in inp.gpu_budget.items():
            members = [(j, v) for j, v in enumerate(variants) if v.accelerator == acc]
            if not members:
                continue
            for t in range(horizon_t):
                entries = []
                for j, v in members:
                    entries.append((n_idx(j, t), float(v.gpus)))
                    for tau in range(max(0, t - delays[j] + 1), t + 1):
                        entries.append((s_idx(j, tau), float(v.gpus)))
                add(entries, -np.inf, float(cap))

    a = coo_matrix((vals, (rows, cols)), shape=(r, nvar)).tocsr()
    upper = np.full(nvar, np.inf)
    for j, v in enumerate(variants):
        for t in range(horizon_t):
            upper[n_idx(j, t)] = v.max_replicas
            upper[s_idx(j, t)] = v.max_replicas
    bounds = Bounds(np.zeros(nvar), upper)
    cons = LinearConstraint(a, np.array(lb), np.array(ub))
    integrality = np.zeros(nvar)
    integrality[: nv * 2 * horizon_t] = 1
    lp = milp(c, constraints=cons, bounds=bounds, integrality=np.zeros(nvar), options={"time_limit": time_limit_s})
    mip = milp(
        c,
        constraints=cons,
        bounds=bounds,
        integrality=integrality,
        options={"time_limit": time_limit_s, "mip_rel_gap": mip_gap},
    )
    x = mip.x if mip.x is not None else (lp.x if lp.x is not None else np.zeros(nvar))

    def totals(sol: FloatArray) -> tuple[float, float, dict[str, list[int]]]:
        gpu = cost = 0.0
        billed: dict[str, list[int]] = {}
        for j, v in enumerate(variants):
            d = delays[j]
            series = []
            for t in range(horizon_t):
                b = float(sol[n_idx(j, t)]) + float(np.sum(sol[s_idx(j, max(0, t - d + 1)) : s_idx(j, t) + 1]))
                series.append(b)
                gpu += b * v.gpus * hours
                cost += b * v.cost_per_replica_hour * hours
            billed[v.name] = [round(b) for b in series]
        return gpu, cost, billed

    gpu, cost, billed = totals(x)
    lp_gpu, lp_cost, _ = totals(lp.x) if lp.x is not None else (math.nan, math.nan, {})
    fl_gpu, fl_cost = fluid_bound(inp)
    unmet = float(np.sum(x[nv * 2 * horizon_t :]))
    return OracleResult(
        status=str(mip.message),
        billed=billed,
        gpu_hours=gpu,
        cost=cost,
        lp_gpu_hours=lp_gpu,
        lp_cost=lp_cost,
        fluid_gpu_hours=fl_gpu,
        fluid_cost=fl_cost,
        unmet_rps_intervals=unmet,
        solve_s=time.perf_counter() - t0,
    )
