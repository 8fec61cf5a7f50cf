"""Write the benchmark figures that README.md and benchmarks/results/full/README.md quote, from the committed results.

Usage: python benchmarks/results_table.py [RESULTS_JSON]   (default benchmarks/results/full/results.json)
Rewrites the generated blocks `bench-summary` in both files and `bench-policies` (every policy) in the results
README (wva_ray.sim.bench.prose); prose must not carry
benchmark figures of its own (tests/sim/test_results_prose.py fails when the blocks are stale or it does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wva_ray.sim.bench.prose import policy_table, replace_block, summary_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "full" / "results.json"
FULL_README = ROOT / "benchmarks" / "results" / "full" / "README.md"
TARGETS = (ROOT / "README.md", FULL_README)


def main(results: Path = RESULTS) -> None:
    doc = json.loads(results.read_text(encoding="utf-8"))
    table = summary_table(doc)
    for path in TARGETS:
        text = replace_block(path.read_text(encoding="utf-8"), "bench-summary", table)
        if path == FULL_README:
            text = replace_block(text, "bench-policies", policy_table(doc))
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS)
