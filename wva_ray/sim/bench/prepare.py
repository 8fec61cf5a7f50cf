"""One scenario instance for one seed: traces, variants, per-replica capacities, goodput curves and the bounds.

Owns `Prepared` and `prepare` (what every policy run of a seed shares), the demand definitions (per-interval
request counts that can meet the SLO at all, the 60-s peak rate static-peak sizes for) and the service-class
ConfigMap a user would write for the scenario's SLO classes. Pure computation apart from reading trace files.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from wva_ray.sim import simulator as simulator_module
from wva_ray.sim.bench import goodput as goodput_module
from wva_ray.sim.bench.capacity import Capacity, CapacityTable
from wva_ray.sim.bench.goodput import GoodputCurve, goodput_curve
from wva_ray.sim.bench.oracle import BoundInput, Bounds, BoundVariant, solve_bounds
from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model import replica as replica_module
from wva_ray.sim.model.profiles import Profile, load_profiles
from wva_ray.sim.model.scenario import SLO_CLASSES, Scenario, SloClass, build_trace
from wva_ray.sim.model.traces import FloatArray, Trace
from wva_ray.sim.render import model_id_of
from wva_ray.sim.simulator import SimModel, SimVariant

# Goodput curve measurement, the same for quick and full runs (2 shared cores): 60-s probes (12 s warm-up),
# 6 golden-section steps, pools measured up to 8 replicas (beyond: 8's per-replica goodput), all +5 %.
CURVE_PROBE_S = 60.0
CURVE_ITERATIONS = 6
CURVE_LARGEST_POOL = 8


@dataclass(frozen=True)
class Prepared:
    scenario: Scenario
    seed: int
    models: list[SimModel]
    variants: list[SimVariant]
    capacity: dict[str, Capacity]  # per variant, one replica at its SLO capacity (baseline sizing)
    curves: dict[str, GoodputCurve]  # per variant, pooled goodput (the bounds, static peak)
    bounds: Bounds
    fidelity: Fidelity
    demand_60s_peak: dict[str, float] = field(default_factory=dict)


def feasible_counts(
    trace: Trace, profiles: list[Profile], slo: SloClass, interval_s: float, duration_s: float
) -> FloatArray:
    """Per interval: requests that meet the SLO on an idle replica of the best of `profiles` (others never can)."""
    ok = np.zeros(len(trace), dtype=bool)
    prompt = trace.prompt_tokens.astype(np.float64)
    for p in profiles:
        step_s = (p.alpha_ms + p.beta_ms + p.gamma_ms_per_1k_kv * prompt / 1000.0) / 1000.0  # KV at its smallest
        ttft = prompt / p.prefill_tokens_per_s + step_s
        itl = step_s
        ok |= (ttft <= slo.ttft_s) & ((itl <= slo.itl_s) | (trace.output_tokens <= 1))
    bins = math.ceil(duration_s / interval_s - 1e-9)
    idx = np.minimum((trace.arrival_s[ok] // interval_s).astype(np.int64), bins - 1)
    return np.bincount(idx, minlength=bins).astype(np.float64)[:bins]


def _code_hash() -> str:
    """Changes when the replica model, the simulator or the goodput search changes (cached curves then expire)."""
    h = hashlib.blake2b(digest_size=8)
    for mod in (replica_module, simulator_module, goodput_module):
        h.update(Path(str(mod.__file__)).read_bytes())
    return h.hexdigest()


class CurveTable:
    """Memo of goodput curves, optionally seeded from a cache file (key: profile, workload, SLO class, fidelity,
    code hash). Quick and full runs measure alike (`CURVE_*`), so they share the cache."""

    def __init__(self, quick: bool, cached: Mapping[str, Any] | None = None) -> None:
        self.quick = quick
        self.code = _code_hash()
        self._table: dict[str, tuple[GoodputCurve, bool]] = {}
        for key, row in (cached or {}).items():
            curve = GoodputCurve(
                {int(n): float(g) for n, g in row["measured"].items()},
                tuple((float(a), float(b)) for a, b in row["envelope"]),
                float(row["per_replica_top"]),
            )
            self._table[key] = (curve, bool(row["full"]))
        self.computed = 0

    def key(self, profile: Profile, workload: str, slo: str, fidelity: Fidelity) -> str:
        prof = hashlib.blake2b(profile.model_dump_json().encode(), digest_size=6).hexdigest()
        fid = hashlib.blake2b(repr(fidelity).encode(), digest_size=6).hexdigest()
        return f"{profile.id}|{workload}|{slo}|{fid}|{prof}|{self.code}"

    def get(self, key: str, build: Callable[[], GoodputCurve]) -> GoodputCurve:
        hit = self._table.get(key)
        if hit is None:
            self._table[key] = (build(), not self.quick)
            self.computed += 1
        return self._table[key][0]

    def as_dict(self) -> dict[str, Any]:
        return {
            k: {
                "measured": {str(n): g for n, g in c.measured.items()},
                "envelope": [list(seg) for seg in c.envelope],
                "per_replica_top": c.per_replica_top,
                "full": full,
            }
            for k, (c, full) in sorted(self._table.items())
        }


def prepare(
    scn: Scenario, seed: int, caps: CapacityTable, curves: CurveTable, traces_dir: Path, fidelity: Fidelity
) -> Prepared:
    profiles = load_profiles()
    models: list[SimModel] = []
    variants: list[SimVariant] = []
    capacity: dict[str, Capacity] = {}
    curve_of: dict[str, GoodputCurve] = {}
    peaks: dict[str, float] = {}
    feasible: dict[str, FloatArray] = {}
    bvars: list[BoundVariant] = []
    lag: dict[str, float] = {}
    requests: dict[str, int] = {}
    dt = scn.oracle_interval_s
    for m in scn.models:
        trace = build_trace(m.workload, scn.duration_s, traces_dir, seed)
        requests[m.name] = len(trace)
        models.append(SimModel(m.name, m.priority, trace))
        rate60 = trace.rate_per_bin(60.0, scn.duration_s)
        peaks[m.name] = float(rate60.max()) if len(rate60) else 0.0
        slo = SLO_CLASSES[m.slo_class]
        profs = [scn.profile_of(v, profiles) for v in m.variants]
        feasible[m.name] = feasible_counts(trace, profs, slo, dt, scn.duration_s)
        need = float(feasible[m.name].max()) / dt if len(feasible[m.name]) else 0.0
        pool = build_trace(m.workload, 3600.0, traces_dir, 0)  # the token mix, the same for quick and full runs
        wkey = f"{scn.name.split('-d')[0]}/{m.name}"
        whash = hashlib.blake2b(m.workload.model_dump_json().encode(), digest_size=6).hexdigest()
        startups = []
        for v, prof in zip(m.variants, profs, strict=True):
            startup = v.startup_s if v.startup_s is not None else prof.startup_s
            startups.append(startup)
            cost = v.cost_per_replica if v.cost_per_replica is not None else prof.cost_per_replica_hour
            variants.append(
                SimVariant(v.name, m.name, prof, startup, cost, v.min_replicas, v.max_replicas, v.initial_replicas)
            )
            cap = caps.get(prof, wkey, pool.prompt_tokens, pool.output_tokens, m.slo_class, slo)
            capacity[v.name] = cap
            key = curves.key(prof, whash, m.slo_class, fidelity)
            curve = curves.get(
                key,
                partial(
                    goodput_curve,
                    prof,
                    pool.prompt_tokens,
                    pool.output_tokens,
                    slo,
                    need,
                    v.max_replicas,
                    cap.rate_rps,
                    fidelity,
                    duration_s=CURVE_PROBE_S,
                    iterations=CURVE_ITERATIONS,
                    largest_pool=CURVE_LARGEST_POOL,
                ),
            )
            curve_of[v.name] = curve
            if len(m.variants) > 1:  # a mixed pool is not measured: per replica at the largest pool, linear
                curve = GoodputCurve(curve.measured, ((curve.per_replica_top, 0.0),), curve.per_replica_top)
            fastest = startup * (1.0 - fidelity.startup_spread) + fidelity.scheduling_delay_s
            bvars.append(
                BoundVariant(
                    v.name, m.name, prof.gpus, prof.accelerator, fastest, v.initial_replicas, v.max_replicas, curve
                )
            )
        lag[m.name] = scn.scrape_interval_s + min(startups) * (1.0 - fidelity.startup_spread)
    inp = BoundInput(dt, feasible, requests, bvars, scn.gpu_budget, lag)
    bounds = solve_bounds(inp)
    return Prepared(scn, seed, models, variants, capacity, curve_of, bounds, fidelity, peaks)


def static_peak_counts(prep: Prepared) -> dict[str, int]:
    """Replicas of each model's cheapest variant (GPU-hours per goodput) for its 60-s peak rate, from the pooled
    goodput curve; other variants 0."""
    counts: dict[str, int] = {v.name: 0 for v in prep.variants}
    for m in prep.scenario.models:
        vs = [v for v in prep.variants if v.model == m.name and prep.curves[v.name].per_replica_top > 0]
        if not vs:
            continue
        best = min(vs, key=lambda v: (v.profile.gpus / prep.curves[v.name].per_replica_top, v.name))
        curve = prep.curves[best.name]
        need = prep.demand_60s_peak[m.name]
        n = 1
        while n < best.max_replicas and curve.at(n) / 1.05 < need:
            n += 1
        counts[best.name] = max(best.min_replicas, min(best.max_replicas, n))
    return counts


def service_classes_config(scn: Scenario) -> dict[str, Any]:
    """The `service-classes-config` ConfigMap a user writes for the scenario: one class per model (its namespace),
    with the model's SLO class targets and priority."""
    profiles = load_profiles()
    out: dict[str, Any] = {}
    for m in scn.models:
        slo = SLO_CLASSES[m.slo_class]
        mid = model_id_of(scn.profile_of(m.variants[0], profiles))
        out[f"{m.name}.yaml"] = {
            "name": m.name,
            "priority": m.priority,
            "data": [{"model": mid, "slo-tpot": slo.itl_s * 1000.0, "slo-ttft": slo.ttft_s * 1000.0}],
        }
    return out
