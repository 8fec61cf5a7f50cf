"""Merge several `wva-ray bench --scenario X --output DIR/X` runs into DIR/results.json + results.md.

Runs of one scenario in several folders (e.g. DIR/X-seed1, DIR/X-seeds2-3: other seeds; DIR/X-extra: other
policies) are pooled per seed (`merge_scenario`), so the means and CIs are over every seed that finished.

Usage: python benchmarks/sim_merge.py DIR  (reads DIR/*/results.json; writes DIR/results.json, results.md,
cost-vs-attainment plots; per-scenario replica plots stay in their sub-folders).
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from wva_ray.sim.bench.metrics import aggregate
from wva_ray.sim.bench.report import write_cost_plot, write_markdown


def _finite(obj: Any) -> Any:
    """NaN (a mean over seeds where a figure was never defined) as null, as the bench itself writes it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _natural(name: str) -> list[Any]:
    """S2 before S10 (numbers compared as numbers)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def merge_scenario(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """One scenario's results from two runs. With per-seed rows in both, the rows are pooled (the later run's row
    for a seed and policy replaces the earlier one) and every mean and CI is recomputed over the pooled seeds;
    without them, the later run's policies replace or join the earlier's (its seeds must then be the same)."""
    if "per_seed" not in old or "per_seed" not in new:
        out = dict(old)
        out["policies"] = {**old.get("policies", {}), **new.get("policies", {})}
        return out
    rows: dict[str, dict[str, Any]] = {p: dict(r) for p, r in old["per_seed"]["policies"].items()}
    for pol, by_seed in new["per_seed"]["policies"].items():
        rows.setdefault(pol, {}).update(by_seed)
    bounds = {**old["per_seed"]["bounds"], **new["per_seed"]["bounds"]}
    replaced = {(pol, seed) for pol, by_seed in new["per_seed"]["policies"].items() for seed in by_seed}
    kept = [v for v in old.get("oracle_violations", []) if not any(f"seed {s} {p}:" in v for p, s in replaced)]
    out = dict(old)
    out["seeds"] = sorted({*old.get("seeds", []), *new.get("seeds", [])})
    out["policies"] = {p: aggregate([r[k] for k in sorted(r, key=int)]) for p, r in rows.items() if r}
    out["bounds"] = aggregate([bounds[k] for k in sorted(bounds, key=int)])
    out["oracle_violations"] = kept + list(new.get("oracle_violations", []))
    out["per_seed"] = {"policies": rows, "bounds": bounds}
    if old.get("errors") or new.get("errors"):
        out["errors"] = {**old.get("errors", {}), **new.get("errors", {})}
    return out


def merge(root: Path) -> Path:
    parts = sorted(
        root.glob("*/results.json"), key=lambda p: (p.parent.name.endswith("-extra"), _natural(p.parent.name))
    )
    if not parts:
        raise SystemExit(f"no */results.json under {root}")
    doc: dict[str, Any] = {"scenarios": {}, "runs": [], "capacities": {}}
    for part in parts:
        sub = json.loads(part.read_text(encoding="utf-8"))
        for key in ("commit", "machine", "default_policy", "quick"):
            doc.setdefault(key, sub.get(key))
        run = {k: sub.get(k) for k in ("command", "wall_s", "commit", "machine", "created")}
        doc["runs"].append(run)
        for name, scn in sub.get("scenarios", {}).items():
            if name in doc["scenarios"]:  # a later run adding seeds or policies to a scenario
                doc["scenarios"][name] = merge_scenario(doc["scenarios"][name], scn)
            else:
                doc["scenarios"][name] = scn
        doc["capacities"].update(sub.get("capacities", {}))
        if "control_plane" in sub:
            doc["control_plane"] = sub["control_plane"]
    doc["command"] = "; ".join(str(r["command"]) for r in doc["runs"]) + f"; python benchmarks/sim_merge.py {root}"
    doc["wall_s"] = sum(float(r["wall_s"] or 0) for r in doc["runs"])
    out = root / "results.json"
    out.write_text(json.dumps(_finite(doc), indent=1), encoding="utf-8")
    write_markdown(root, doc)
    write_cost_plot(root, doc)
    return out


if __name__ == "__main__":
    print(merge(Path(sys.argv[1])))
