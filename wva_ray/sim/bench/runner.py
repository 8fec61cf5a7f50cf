"""Runs one scenario: every seed x policy through the simulator, scored against the bounds of that seed.

Owns `run_one` (one policy on one prepared seed, with its actuation) and `run_scenario` (the per-scenario result
document: per policy the metrics averaged over seeds with 95 % CIs, GPU-hours vs the oracle at the policy's own
attainment, per scenario the oracle at each attainment target, the causal bound, and the oracle check). Progress
lines on stderr; no other I/O (results are written by wva_ray.sim.bench.suite).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wva_ray.sim.bench.capacity import CapacityTable
from wva_ray.sim.bench.metrics import MetricContext, aggregate, summarize
from wva_ray.sim.bench.policies import build
from wva_ray.sim.bench.prepare import CurveTable, Prepared, prepare
from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.scenario import Scenario
from wva_ray.sim.records import SimResult
from wva_ray.sim.simulator import Simulation

# A policy "beats the oracle" when its GPU-hours fall below the oracle's at its own attainment by more than this
# (the bound is an LP on measured goodput; the simulation's own noise is of this order).
ORACLE_TOLERANCE = 0.03


def progress(msg: str) -> None:
    print(f"[bench {datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_one(prep: Prepared, policy_name: str, shards: int = 1) -> SimResult:
    built = build(policy_name, prep, shards)
    variants = prep.variants  # every policy, static-peak included, starts from the scenario's initial fleet
    sim = Simulation(
        prep.models,
        variants,
        built.policy,
        prep.scenario.duration_s,
        seed=prep.seed,
        scrape_interval_s=prep.scenario.scrape_interval_s,
        record_interval_s=prep.scenario.record_interval_s,
        gpu_budget=prep.scenario.gpu_budget,
        actuator=built.actuator,
        fidelity=prep.fidelity,
    )
    return sim.run()


def _context(prep: Prepared) -> MetricContext:
    scn = prep.scenario
    return MetricContext(
        model_class={m.name: m.slo_class for m in scn.models},
        variant_model={v.name: v.model for v in prep.variants},
        variant_capacity_rps={v: c.rate_rps for v, c in prep.capacity.items()},
        variant_startup_s={v.name: v.startup_s for v in prep.variants},
        step_model=scn.step.model if scn.step else None,
        step_at_s=scn.step.at_s if scn.step else None,
        step_to_rps=scn.step.to_rps if scn.step else None,
    )


def _matched(row: dict[str, float], prep: Prepared) -> None:
    """GPU-hours vs the oracle at the policy's own per-model attainments, and whether it beat the bound."""
    att = {m.name: row.get(f"slo_attainment_{m.name}", math.nan) for m in prep.models}
    att = {k: (v if math.isfinite(v) else 0.0) for k, v in att.items()}
    # attainments a hair under the policy's (simulation noise) must be reachable by the bound
    bound = prep.bounds.oracle_at({k: max(0.0, v - 0.005) for k, v in att.items()})
    row["oracle_gpu_hours_at_own_attainment"] = bound if bound is not None else math.nan
    row["gpu_hours_vs_matched_oracle"] = row["gpu_hours"] / bound if bound else math.nan
    row["beats_oracle"] = float(bound is None or row["gpu_hours"] < (1 - ORACLE_TOLERANCE) * bound)
    # The causal bound at the same attainments: what the best reactive policy pays there. Where the policy's
    # attainment is above the causal maximum (only a policy that knows the future gets there, e.g. static peak),
    # it is undefined and the gap to the causal maximum (negative) says by how much.
    causal = prep.bounds.causal_at({k: max(0.0, v - 0.005) for k, v in att.items()})
    row["causal_gpu_hours_at_own_attainment"] = causal if causal is not None else math.nan
    row["gpu_hours_vs_matched_causal"] = row["gpu_hours"] / causal if causal else math.nan
    row["attainment_gap_to_causal_max"] = prep.bounds.causal_max_attainment - row["slo_attainment"]


def run_scenario(
    scn: Scenario,
    policies: list[str],
    traces_dir: Path,
    caps: CapacityTable,
    curves: CurveTable,
    fidelity: Fidelity | None = None,
    plot_hook: Callable[[str, Prepared, dict[str, SimResult]], None] | None = None,
    shards: int = 1,
) -> dict[str, Any]:
    per_policy: dict[str, list[dict[str, float]]] = {p: [] for p in policies}
    per_seed: dict[str, dict[str, dict[str, float]]] = {p: {} for p in policies}  # policy -> seed -> row
    bounds: list[dict[str, float]] = []
    errors: dict[str, str] = {}
    violations: list[str] = []
    fid = fidelity or Fidelity()
    capacities: dict[str, dict[str, float]] = {}
    for k, seed in enumerate(scn.seeds):
        t0 = time.perf_counter()
        prep = prepare(scn, seed, caps, curves, traces_dir, fid)
        ctx = _context(prep)
        capacities = {v: vars(c).copy() for v, c in prep.capacity.items()}
        b = prep.bounds.as_dict()
        bounds.append({key: (math.nan if val is None else val) for key, val in b.items()})
        progress(
            f"{scn.name} seed {seed}: {sum(len(m.trace) for m in prep.models)} requests, oracle max attainment "
            f"{prep.bounds.oracle_max_attainment:.4f}, at 0.99 {b['oracle_gpu_hours_at_0.99']}, causal max "
            f"{prep.bounds.causal_max_attainment:.4f}, prep {time.perf_counter() - t0:.1f}s"
        )
        results: dict[str, SimResult] = {}
        for name in policies:
            try:
                res = run_one(prep, name, shards)
            except Exception as exc:  # one broken policy must not lose the others' results
                errors[name] = f"{type(exc).__name__}: {exc}"
                progress(f"{scn.name} seed {seed} {name}: FAILED {errors[name][:200]}")
                continue
            row = summarize(res, ctx)
            _matched(row, prep)
            if row["beats_oracle"]:
                violations.append(
                    f"{scn.name} seed {seed} {name}: {row['gpu_hours']:.3f} GPU-h at attainment "
                    f"{row['slo_attainment']:.4f} vs oracle {row['oracle_gpu_hours_at_own_attainment']:.3f}"
                )
            per_policy[name].append(row)
            per_seed[name][str(seed)] = row
            results[name] = res
            progress(
                f"{scn.name} seed {seed} {name}: attainment {row['slo_attainment']:.4f}, {row['gpu_hours']:.2f} GPU-h "
                f"(x{row['gpu_hours_vs_matched_oracle']:.2f} matched oracle), sim {res.wall_s:.1f}s"
            )
        if k == 0 and plot_hook is not None:
            plot_hook(scn.name, prep, results)
    out: dict[str, Any] = {
        "description": scn.description,
        "duration_s": scn.duration_s,
        "seeds": scn.seeds,
        "fidelity": repr(fid),
        "policies": {p: aggregate(rows) for p, rows in per_policy.items() if rows},
        "bounds": aggregate(bounds),
        "oracle_violations": violations,
        "capacity_per_replica": capacities,
        # the rows the means come from, so runs of other seeds can be merged (benchmarks/sim_merge.py)
        "per_seed": {
            "policies": {p: rows for p, rows in per_seed.items() if rows},
            "bounds": {str(seed): b for seed, b in zip(scn.seeds, bounds, strict=True)},
        },
    }
    if errors:
        out["errors"] = errors
    return out
