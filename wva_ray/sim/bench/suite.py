"""`wva-ray bench`: the suite (or chosen scenarios) end to end, written to an output folder.

Owns scenario selection (a name, a prefix, or a path to a scenario file), `--seeds`/`--sweep` overrides, the
result document's stamp (the exact command, the commit it started from, the machine) and writing `results.json`,
`results.md` and the plots (wva_ray.sim.bench.report). File I/O, `git rev-parse`, progress on stderr.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wva_ray.sim.bench.capacity import CapacityTable
from wva_ray.sim.bench.policies import DEFAULT_POLICIES, DEFAULT_POLICY, QUICK_POLICIES, SWEEPS, parse_name
from wva_ray.sim.bench.prepare import CurveTable, Prepared
from wva_ray.sim.bench.report import write_cost_plot, write_markdown, write_plots
from wva_ray.sim.bench.runner import progress, run_scenario
from wva_ray.sim.control_plane import run_control_plane
from wva_ray.sim.model.scenario import Scenario, expand, load_scenario, load_scenarios
from wva_ray.sim.records import SimResult

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIOS_DIR = REPO_ROOT / "benchmarks" / "scenarios"
TRACES_DIR = REPO_ROOT.parent / "shared" / "data" / "traces"
# Goodput curves measured by earlier runs (keyed by profile, workload, SLO class, fidelity and a hash of the
# simulator code, so a model change re-measures); a run adds what it measured. Commit it with results.
CURVE_CACHE = REPO_ROOT / "benchmarks" / "goodput-cache.json"
# Per-replica capacities likewise (keyed by profile, token pools, SLO, search size and code hash).
CAPACITY_CACHE = REPO_ROOT / "benchmarks" / "capacity-cache.json"


@dataclass(frozen=True)
class BenchArgs:
    """The command line, kept to stamp the results with the command that made them."""

    quick: bool = False
    scenario: str | None = None
    output: Path = Path("benchmarks/results/latest")
    policies: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    sweep: bool = False
    shards: int = 1  # the runtime shard count of the policies on wva-ray's decision path

    def command(self) -> str:
        parts = ["wva-ray", "bench"]
        if self.quick:
            parts.append("--quick")
        if self.scenario:
            parts += ["--scenario", self.scenario]
        for p in self.policies:
            parts += ["--policy", p]
        for s in self.seeds:
            parts += ["--seeds", str(s)]
        if self.sweep:
            parts.append("--sweep")
        if self.shards != 1:
            parts += ["--shards", str(self.shards)]
        parts += ["--output", str(self.output)]
        return " ".join(shlex.quote(p) for p in parts)


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
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f} at start"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def select(scenario: str | None, scenarios_dir: Path) -> dict[str, Scenario]:
    """All scenarios of the folder, or the one named (exact name or prefix), or the file at that path."""
    if scenario is not None and (scenario.endswith((".yaml", ".yml")) or os.sep in scenario):
        path = Path(scenario)
        if not path.is_file():
            raise ValueError(f"scenario file {scenario!r} does not exist")
        scn = load_scenario(path)
        return {scn.name: scn}
    specs = load_scenarios(scenarios_dir)
    if scenario is None:
        return specs
    chosen = {n: s for n, s in specs.items() if n == scenario or n.startswith(scenario)}
    if not chosen:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(sorted(specs))} (or a path to a file)")
    return chosen


def run_bench(
    args: BenchArgs,
    scenarios_dir: Path = SCENARIOS_DIR,
    traces_dir: Path = TRACES_DIR,
    curve_cache: Path | None = CURVE_CACHE,
    capacity_cache: Path | None = CAPACITY_CACHE,
) -> Path:
    """Run the suite (or the chosen scenarios) and write `output/results.json` (returned), `results.md`, PNGs."""
    started = time.perf_counter()
    commit = _git_commit()  # stamped at the start: the code that ran
    for p in args.policies:
        parse_name(p)  # fail before any work on a misspelt policy
    if args.shards < 1:
        raise ValueError(f"--shards must be >= 1, got {args.shards}")
    specs = select(args.scenario, scenarios_dir)
    output = args.output
    output.mkdir(parents=True, exist_ok=True)
    known = _read_json(capacity_cache)
    caps = CapacityTable(n_requests=1500 if args.quick else 6000, cached=known)
    cached = _read_json(curve_cache)
    curves = CurveTable(args.quick, cached)
    results: dict[str, Any] = {}
    control: dict[str, Any] | None = None

    def hook(name: str, prep: Prepared, runs: dict[str, SimResult]) -> None:
        write_plots(output, name, prep, runs)

    for spec in specs.values():
        if args.quick and not spec.quick.include:
            continue
        if spec.kind == "control-plane":
            sizes = spec.control_plane_sizes[:2] if args.quick else spec.control_plane_sizes
            progress(f"{spec.name}: decide() at {sizes} VAs")
            control = run_control_plane(sizes, repeats=5 if args.quick else 20)
            continue
        for scn in expand(spec, args.quick):
            if args.seeds:
                scn = scn.model_copy(update={"seeds": list(args.seeds)})
            chosen = list(args.policies) or list(scn.policies or (QUICK_POLICIES if args.quick else DEFAULT_POLICIES))
            if args.sweep:
                chosen += [s for fam in SWEEPS.values() for s in fam if s not in chosen]
            progress(f"{scn.name}: {len(scn.seeds)} seed(s) x {len(chosen)} policies, {scn.duration_s:.0f}s")
            results[scn.name] = run_scenario(scn, chosen, traces_dir, caps, curves, scn.fidelity, hook, args.shards)
    doc: dict[str, Any] = {
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": args.command(),
        "machine": _machine(),
        "quick": args.quick,
        "default_policy": DEFAULT_POLICY,
        "wall_s": time.perf_counter() - started,
        "capacities": caps.as_dict(),
        "goodput_curves": {k: v["measured"] for k, v in curves.as_dict().items()},
        "scenarios": results,
    }
    if control is not None:
        doc["control_plane"] = control
    if curves.computed and curve_cache is not None:
        curve_cache.write_text(json.dumps(curves.as_dict(), indent=1), encoding="utf-8")
    if caps.computed and capacity_cache is not None:
        capacity_cache.write_text(json.dumps(caps.cached(), indent=1, sort_keys=True), encoding="utf-8")
    path = output / "results.json"
    path.write_text(json.dumps(_finite(doc), indent=1, sort_keys=False), encoding="utf-8")
    write_markdown(output, doc)
    write_cost_plot(output, doc)
    progress(f"wrote {path} in {doc['wall_s']:.0f}s")
    return path


def oracle_violations(path: Path) -> list[str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [v for scn in doc.get("scenarios", {}).values() for v in scn.get("oracle_violations", [])]
