"""The benchmark runner behind `wva-ray bench`: every scenario x policy x seed through the simulator.

Owns policy construction per scenario (sized from the simulator's own SLO capacities), the oracle
solve and replay, aggregation, and writing `results.json`, `results.md` and PNG plots into the output
folder (file I/O and progress lines on stderr; `git rev-parse` for the commit stamp).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.sim.bench.capacity import Capacity, CapacityTable
from wva_ray.sim.bench.metrics import MetricContext, aggregate, summarize
from wva_ray.sim.bench.oracle import OracleInput, OracleResult, OracleVariant, solve
from wva_ray.sim.bench.report import write_cost_plot, write_markdown, write_plots
from wva_ray.sim.control_plane import run_control_plane
from wva_ray.sim.model.profiles import load_profiles
from wva_ray.sim.model.scenario import SLO_CLASSES, Scenario, build_trace, expand, load_scenarios
from wva_ray.sim.model.traces import FloatArray, Trace
from wva_ray.sim.policies.base import WVA_CHART_BEHAVIOR, Policy
from wva_ray.sim.policies.hpa import HpaKv
from wva_ray.sim.policies.keda import KedaQueue
from wva_ray.sim.policies.ray_serve import RayServe
from wva_ray.sim.policies.slo_policy import SloPolicy
from wva_ray.sim.policies.static import Scheduled
from wva_ray.sim.policies.wva_ray import WvaRay
from wva_ray.sim.policies.wva_upstream import WvaUpstream
from wva_ray.sim.simulator import SimModel, SimResult, Simulation, SimVariant

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIOS_DIR = REPO_ROOT / "benchmarks" / "scenarios"
TRACES_DIR = REPO_ROOT.parent / "shared" / "data" / "traces"

DEFAULT_POLICY = "wva-ray"
ALL_POLICIES = (
    "wva-ray",
    "wva-ray-v2",
    "wva-ray-slo",
    "wva-upstream",
    "hpa-kv",
    "hpa-kv-tuned",
    "keda-queue",
    "ray-serve-default",
    "ray-serve-tuned",
    "static-peak",
    "oracle",
)
DEFAULT_POLICIES = ALL_POLICIES


def _progress(msg: str) -> None:
    print(f"[bench {datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Prepared:
    """One scenario instance for one seed: traces, variants, capacities, oracle."""

    scenario: Scenario
    seed: int
    models: list[SimModel]
    variants: list[SimVariant]
    capacity: dict[str, Capacity]  # per variant, for its model's workload and SLO class
    oracle: OracleResult
    oracle_interval_s: float
    demand_60s_peak: dict[str, float] = field(default_factory=dict)


def _demand(trace: Trace, interval_s: float, duration_s: float) -> FloatArray:
    """Per interval: the peak 10-s rate inside it (section 4.1)."""
    fine = trace.rate_per_bin(10.0, duration_s)
    per = max(1, round(interval_s / 10.0))
    pad = (-len(fine)) % per
    fine = np.concatenate([fine, np.zeros(pad)])
    return np.asarray(fine.reshape(-1, per).max(axis=1), dtype=np.float64)


def prepare(scn: Scenario, seed: int, caps: CapacityTable, traces_dir: Path) -> Prepared:
    profiles = load_profiles()
    models: list[SimModel] = []
    variants: list[SimVariant] = []
    capacity: dict[str, Capacity] = {}
    peaks: dict[str, float] = {}
    demand: dict[str, FloatArray] = {}
    ovars: list[OracleVariant] = []
    for m in scn.models:
        trace = build_trace(m.workload, scn.duration_s, traces_dir, seed)
        models.append(SimModel(m.name, m.priority, trace))
        demand[m.name] = _demand(trace, scn.oracle_interval_s, scn.duration_s)
        rate60 = trace.rate_per_bin(60.0, scn.duration_s)
        peaks[m.name] = float(rate60.max()) if len(rate60) else 0.0
        pool = build_trace(m.workload, min(scn.duration_s, 3600.0), traces_dir, 0)
        for v in m.variants:
            prof = scn.profile_of(v, profiles)
            startup = v.startup_s if v.startup_s is not None else prof.startup_s
            cost = v.cost_per_replica if v.cost_per_replica is not None else prof.cost_per_replica_hour
            variants.append(
                SimVariant(v.name, m.name, prof, startup, cost, v.min_replicas, v.max_replicas, v.initial_replicas)
            )
            cap = caps.get(
                prof,
                f"{scn.name.split('-d')[0]}/{m.name}",
                pool.prompt_tokens,
                pool.output_tokens,
                m.slo_class,
                SLO_CLASSES[m.slo_class],
            )
            capacity[v.name] = cap
            ovars.append(
                OracleVariant(
                    v.name,
                    m.name,
                    cap.rate_rps,
                    cost,
                    prof.gpus,
                    prof.accelerator,
                    startup,
                    v.initial_replicas,
                    v.max_replicas,
                )
            )
    inp = OracleInput(
        interval_s=scn.oracle_interval_s,
        demand_rps=demand,
        variants=ovars,
        gpu_budget=scn.gpu_budget,
        priority={m.name: m.priority for m in scn.models},
    )
    oracle = solve(inp)
    return Prepared(scn, seed, models, variants, capacity, oracle, scn.oracle_interval_s, peaks)


def _static_peak(prep: Prepared) -> Scheduled:
    counts: dict[str, list[int]] = {}
    for m in prep.scenario.models:
        vs = [v for v in prep.variants if v.model == m.name and prep.capacity[v.name].rate_rps > 0]
        for v in prep.variants:
            if v.model == m.name:
                counts[v.name] = [0]
        if not vs:
            continue
        best = min(vs, key=lambda v: (v.cost_per_replica / prep.capacity[v.name].rate_rps, v.name))
        need = math.ceil(prep.demand_60s_peak[m.name] / prep.capacity[best.name].rate_rps)
        counts[best.name] = [max(best.min_replicas, min(best.max_replicas, max(need, 1)))]
    return Scheduled("static-peak", counts, 3600.0 * 1000)


def scenario_slo_targets(prep: Prepared) -> dict[str, ResolvedTarget]:
    """Each scenario model's SLO class as the latency targets analyzer slo sizes for."""
    return {
        m.name: ResolvedTarget(
            class_name=m.slo_class,
            priority=m.priority,
            itl_ms=SLO_CLASSES[m.slo_class].itl_s * 1000.0,
            ttft_ms=SLO_CLASSES[m.slo_class].ttft_s * 1000.0,
            source="scenario slo_class",
        )
        for m in prep.scenario.models
    }


def make_policy(name: str, prep: Prepared) -> Policy:
    caps = prep.capacity
    if name == "wva-ray":
        return WvaRay("wva-ray", analyzer="")
    if name == "wva-ray-v2":
        return WvaRay("wva-ray-v2", analyzer="saturation")
    if name == "wva-ray-slo":
        return SloPolicy(scenario_slo_targets(prep), name="wva-ray-slo")
    if name == "wva-upstream":
        return WvaUpstream()
    if name == "hpa-kv":
        return HpaKv()
    if name == "hpa-kv-tuned":
        return HpaKv("hpa-kv-tuned", behavior=WVA_CHART_BEHAVIOR)
    if name == "keda-queue":
        return KedaQueue({v: max(1.0, 0.8 * c.mean_running) for v, c in caps.items()})
    if name == "ray-serve-default":
        return RayServe({v: 2.0 for v in caps}, "ray-serve-default")
    if name == "ray-serve-tuned":
        return RayServe({v: max(1.0, 0.7 * c.mean_ongoing) for v, c in caps.items()}, "ray-serve-tuned")
    if name == "static-peak":
        return _static_peak(prep)
    if name == "oracle":
        return Scheduled("oracle", prep.oracle.billed, prep.oracle_interval_s)
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(ALL_POLICIES)}")


def run_one(prep: Prepared, policy_name: str) -> SimResult:
    policy = make_policy(policy_name, prep)
    variants = prep.variants
    if policy_name == "static-peak" and isinstance(policy, Scheduled):
        init = policy.initial()
        variants = [
            SimVariant(
                v.name,
                v.model,
                v.profile,
                v.startup_s,
                v.cost_per_replica,
                min(v.min_replicas, init.get(v.name, 0)),
                v.max_replicas,
                init.get(v.name, 0),
            )
            for v in variants
        ]
    sim = Simulation(
        prep.models,
        variants,
        policy,
        prep.scenario.duration_s,
        seed=prep.seed,
        scrape_interval_s=prep.scenario.scrape_interval_s,
        record_interval_s=prep.scenario.record_interval_s,
        gpu_budget=prep.scenario.gpu_budget,
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


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def _command(quick: bool, scenario: str | None, output: Path) -> str:
    parts = ["wva-ray", "bench"]
    if quick:
        parts.append("--quick")
    if scenario:
        parts += ["--scenario", scenario]
    return " ".join([*parts, "--output", str(output)])


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def run_scenario(
    scn: Scenario,
    policies: list[str],
    traces_dir: Path,
    caps: CapacityTable,
    plot_hook: Callable[[str, Prepared, dict[str, SimResult]], None] | None = None,
) -> dict[str, Any]:
    per_policy: dict[str, list[dict[str, float]]] = {p: [] for p in policies}
    bounds: list[dict[str, float]] = []
    errors: dict[str, str] = {}
    capacities: dict[str, dict[str, float]] = {}
    for k, seed in enumerate(scn.seeds):
        t0 = time.perf_counter()
        prep = prepare(scn, seed, caps, traces_dir)
        ctx = _context(prep)
        capacities = {v: vars(c).copy() for v, c in prep.capacity.items()}
        bounds.append(
            {
                "milp_gpu_hours": prep.oracle.gpu_hours,
                "milp_cost": prep.oracle.cost,
                "lp_gpu_hours": prep.oracle.lp_gpu_hours,
                "lp_cost": prep.oracle.lp_cost,
                "fluid_gpu_hours": prep.oracle.fluid_gpu_hours,
                "fluid_cost": prep.oracle.fluid_cost,
                "milp_unmet_rps_intervals": prep.oracle.unmet_rps_intervals,
                "milp_solve_s": prep.oracle.solve_s,
            }
        )
        _progress(
            f"{scn.name} seed {seed}: {sum(len(m.trace) for m in prep.models)} requests, "
            f"oracle {prep.oracle.gpu_hours:.2f} GPU-h ({prep.oracle.status[:40]}), "
            f"prep {time.perf_counter() - t0:.1f}s"
        )
        results: dict[str, SimResult] = {}
        for name in policies:
            try:
                res = run_one(prep, name)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                _progress(f"{scn.name} seed {seed} {name}: FAILED {errors[name][:200]}")
                continue
            row = summarize(res, ctx)
            row["gpu_hours_vs_oracle"] = row["gpu_hours"] / prep.oracle.gpu_hours if prep.oracle.gpu_hours else math.nan
            row["cost_vs_oracle"] = row["cost"] / prep.oracle.cost if prep.oracle.cost else math.nan
            per_policy[name].append(row)
            results[name] = res
            _progress(
                f"{scn.name} seed {seed} {name}: {row['gpu_hours']:.2f} GPU-h, "
                f"attainment {row['slo_attainment']:.4f}, sim {res.wall_s:.1f}s"
            )
        if k == 0 and plot_hook is not None:
            plot_hook(scn.name, prep, results)
    out: dict[str, Any] = {
        "description": scn.description,
        "duration_s": scn.duration_s,
        "seeds": scn.seeds,
        "policies": {p: aggregate(rows) for p, rows in per_policy.items() if rows},
        "oracle_bounds": aggregate(bounds),
        "capacity_per_replica": capacities,
    }
    if errors:
        out["errors"] = errors
    return out


def run_bench(
    quick: bool,
    scenario: str | None,
    output: Path,
    scenarios_dir: Path = SCENARIOS_DIR,
    traces_dir: Path = TRACES_DIR,
    policies: list[str] | None = None,
) -> Path:
    """Run the suite (or one scenario) and write `output/results.json` (returned), `results.md`, PNGs."""
    started = time.perf_counter()
    commit = _git_commit()  # stamped at the start: the code that ran
    output.mkdir(parents=True, exist_ok=True)
    specs = load_scenarios(scenarios_dir)
    if scenario is not None:
        chosen = {n: s for n, s in specs.items() if n == scenario or n.startswith(scenario)}
        if not chosen:
            raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(sorted(specs))}")
        specs = chosen
    caps = CapacityTable(n_requests=1500 if quick else 6000)
    results: dict[str, Any] = {}
    control: dict[str, Any] | None = None
    timelines: dict[str, Any] = {}

    def hook(name: str, prep: Prepared, runs: dict[str, SimResult]) -> None:
        timelines[name] = (prep, runs)
        write_plots(output, name, prep, runs)

    for spec in specs.values():
        if quick and not spec.quick.include:
            continue
        if spec.kind == "control-plane":
            sizes = spec.control_plane_sizes[:2] if quick else spec.control_plane_sizes
            _progress(f"{spec.name}: decide() at {sizes} VAs")
            control = run_control_plane(sizes, repeats=5 if quick else 20)
            continue
        for scn in expand(spec, quick):
            chosen_policies = [p for p in (policies or scn.policies or list(DEFAULT_POLICIES))]
            _progress(f"{scn.name}: {len(scn.seeds)} seed(s) x {len(chosen_policies)} policies, {scn.duration_s:.0f}s")
            results[scn.name] = run_scenario(scn, chosen_policies, traces_dir, caps, hook)
    doc: dict[str, Any] = {
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command(quick, scenario, output),
        "machine": _machine(),
        "quick": quick,
        "default_policy": DEFAULT_POLICY,
        "wall_s": time.perf_counter() - started,
        "capacities": caps.as_dict(),
        "scenarios": results,
    }
    if control is not None:
        doc["control_plane"] = control
    path = output / "results.json"
    path.write_text(json.dumps(_finite(doc), indent=1, sort_keys=False), encoding="utf-8")
    write_markdown(output, doc)
    write_cost_plot(output, doc)
    _progress(f"wrote {path} in {doc['wall_s']:.0f}s")
    return path
