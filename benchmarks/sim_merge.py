"""Merge several `wva-ray bench --scenario X --output DIR/X` runs into DIR/results.json + results.md.

Usage: python benchmarks/sim_merge.py DIR  (reads DIR/*/results.json; writes DIR/results.json, results.md,
cost-vs-attainment plots; per-scenario replica plots stay in their sub-folders).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from wva_ray.sim.bench.report import write_cost_plot, write_markdown


def merge(root: Path) -> Path:
    parts = sorted(root.glob("*/results.json"), key=lambda p: (p.parent.name.endswith("-extra"), p.parent.name))
    if not parts:
        raise SystemExit(f"no */results.json under {root}")
    doc: dict[str, Any] = {"scenarios": {}, "runs": [], "capacities": {}}
    for part in parts:
        sub = json.loads(part.read_text(encoding="utf-8"))
        for key in ("commit", "machine", "default_policy", "quick"):
            doc.setdefault(key, sub.get(key))
        doc["runs"].append({"command": sub.get("command"), "wall_s": sub.get("wall_s"), "commit": sub.get("commit")})
        for name, scn in sub.get("scenarios", {}).items():
            if name in doc["scenarios"]:  # a later run adding policies to a scenario
                doc["scenarios"][name]["policies"].update(scn.get("policies", {}))
            else:
                doc["scenarios"][name] = scn
        doc["capacities"].update(sub.get("capacities", {}))
        if "control_plane" in sub:
            doc["control_plane"] = sub["control_plane"]
    doc["command"] = "; ".join(str(r["command"]) for r in doc["runs"]) + f"; python benchmarks/sim_merge.py {root}"
    doc["wall_s"] = sum(float(r["wall_s"] or 0) for r in doc["runs"])
    out = root / "results.json"
    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    write_markdown(root, doc)
    write_cost_plot(root, doc)
    return out


if __name__ == "__main__":
    print(merge(Path(sys.argv[1])))
