"""Judge analyzer `slo` in the simulator: scenarios S1-S4 against V1, V2 and the baselines, with chosen seeds.

Uses the simulator helper's runner pieces as they are (`prepare`, `make_policy`, `run_one`, `summarize`): same
traces, capacities, oracle, metrics. Our policy is `wva_ray.sim.policies.slo_policy.SloPolicy` under the name
`slo`. Prints one line per scenario x policy (mean over seeds) and writes the rows as JSON.

Run: .venv/bin/python benchmarks/slo_judge.py --scenario S1 --seeds 11 12 --quick --output /tmp/slo-s1.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from wva_ray.sim.bench.capacity import CapacityTable
from wva_ray.sim.bench.metrics import summarize
from wva_ray.sim.bench.runner import (
    SCENARIOS_DIR,
    TRACES_DIR,
    Prepared,
    _context,
    prepare,
    run_one,
    scenario_slo_targets,
)
from wva_ray.sim.model.scenario import expand, load_scenarios
from wva_ray.sim.policies.slo_policy import SloPolicy
from wva_ray.sim.simulator import SimResult, Simulation

BASELINES = [
    "wva-ray",
    "wva-ray-v2",
    "wva-upstream",
    "hpa-kv",
    "hpa-kv-tuned",
    "keda-queue",
    "ray-serve-default",
    "ray-serve-tuned",
    "static-peak",
    "oracle",
]
KEYS = ("gpu_hours", "gpu_hours_vs_oracle", "cost_vs_oracle", "slo_attainment", "flaps", "scale_actions_per_hour")


def run_slo(prep: Prepared) -> SimResult:
    sim = Simulation(
        prep.models,
        prep.variants,
        SloPolicy(scenario_slo_targets(prep), name="slo"),
        prep.scenario.duration_s,
        seed=prep.seed,
        scrape_interval_s=prep.scenario.scrape_interval_s,
        record_interval_s=prep.scenario.record_interval_s,
        gpu_budget=prep.scenario.gpu_budget,
    )
    return sim.run()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True, help="name prefix, e.g. S1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    ap.add_argument("--quick", action="store_true", help="the scenario's short variant (2-core budget)")
    ap.add_argument("--policies", nargs="*", default=None, help="baselines to run besides slo (default: all)")
    ap.add_argument("--startup", type=float, nargs="*", default=None, help="keep only these start-up sweeps")
    ap.add_argument("--output", type=Path, required=True)
    args = ap.parse_args()
    specs = [s for n, s in load_scenarios(SCENARIOS_DIR).items() if n.startswith(args.scenario)]
    if not specs:
        raise SystemExit(f"no scenario starts with {args.scenario!r}")
    caps = CapacityTable(n_requests=2500 if args.quick else 6000)
    policies = ["slo", *(BASELINES if args.policies is None else args.policies)]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        for scn in expand(spec, args.quick):
            if args.startup and not any(f"d{int(s)}" in scn.name for s in args.startup) and spec.sweep:
                continue
            scn = scn.model_copy(update={"seeds": list(args.seeds)})
            per: dict[str, list[dict[str, float]]] = {p: [] for p in policies}
            for seed in args.seeds:
                t0 = time.perf_counter()
                prep = prepare(scn, seed, caps, TRACES_DIR)
                ctx = _context(prep)
                print(f"# {scn.name} seed {seed}: prepared in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
                for name in policies:
                    t1 = time.perf_counter()
                    res = run_slo(prep) if name == "slo" else run_one(prep, name)
                    row = summarize(res, ctx)
                    row["gpu_hours_vs_oracle"] = row["gpu_hours"] / prep.oracle.gpu_hours
                    row["cost_vs_oracle"] = row["cost"] / prep.oracle.cost
                    per[name].append(row)
                    print(
                        f"#   {name}: {row['gpu_hours']:.2f} GPU-h ({row['gpu_hours_vs_oracle']:.2f}x oracle), "
                        f"attainment {row['slo_attainment']:.3f} [{time.perf_counter() - t1:.0f}s]",
                        file=sys.stderr,
                        flush=True,
                    )
            for name, runs in per.items():
                mean = {k: statistics.fmean(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)}
                per_model = {k: v for k, v in mean.items() if k.startswith("slo_attainment_")}
                rows.append({"scenario": scn.name, "policy": name, "seeds": args.seeds, **mean})
                print(
                    f"{scn.name:22s} {name:18s} GPU-h {mean['gpu_hours']:7.2f}  vs oracle "
                    f"{mean['gpu_hours_vs_oracle']:5.2f}  cost vs oracle {mean['cost_vs_oracle']:5.2f}  "
                    f"attain {mean['slo_attainment']:.3f}  "
                    + " ".join(f"{k[15:]}={v:.3f}" for k, v in per_model.items())
                    + f"  flaps {mean.get('flaps', math.nan):.1f}",
                    flush=True,
                )
    args.output.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
