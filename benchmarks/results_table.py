"""Write the benchmark figures that README.md and benchmarks/results/full/README.md quote, from the committed results.

Usage: python benchmarks/results_table.py [RESULTS_JSON]   (default benchmarks/results/full/results.json)
Rewrites the generated blocks `bench-summary` in both files (wva_ray.sim.bench.prose); prose must not carry
benchmark figures of its own (tests/sim/test_results_prose.py fails when the blocks are stale or it does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wva_ray.sim.bench.prose import replace_block, summary_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "full" / "results.json"
TARGETS = (ROOT / "README.md", ROOT / "benchmarks" / "results" / "full" / "README.md")


def main(results: Path = RESULTS) -> None:
    table = summary_table(json.loads(results.read_text(encoding="utf-8")))
    for path in TARGETS:
        path.write_text(replace_block(path.read_text(encoding="utf-8"), "bench-summary", table), encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS)
