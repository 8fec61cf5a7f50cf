"""Numbers in prose come from results: the generated tables match the committed results.json, and the benchmark
prose carries no figure of its own (issue 14, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wva_ray.sim.bench.prose import (
    current_block,
    numbers_outside_blocks,
    policy_table,
    replace_block,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "full" / "results.json"
README = ROOT / "README.md"
FULL_README = ROOT / "benchmarks" / "results" / "full" / "README.md"


def _analyzer_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Choosing an analyzer")
    end = text.index("\n## ", start + 5)
    return text[start:end]


@pytest.mark.parametrize("path", [README, FULL_README], ids=["README", "results-README"])
def test_generated_tables_match_the_committed_results(path: Path) -> None:
    table = summary_table(json.loads(RESULTS.read_text(encoding="utf-8")))
    assert current_block(path.read_text(encoding="utf-8"), "bench-summary") == table, (
        f"{path.name} is stale: run python benchmarks/results_table.py"
    )


def test_the_every_policy_table_matches_the_committed_results() -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert current_block(FULL_README.read_text(encoding="utf-8"), "bench-policies") == policy_table(doc), (
        "benchmarks/results/full/README.md is stale: run python benchmarks/results_table.py"
    )
    names = {p for scn in doc["scenarios"].values() for p in scn["policies"]}
    rows = {line.split(" | ")[0].lstrip("| ") for line in policy_table(doc).splitlines() if line.startswith("| ")}
    assert names <= rows  # every policy that ran has its row


def test_benchmark_prose_has_no_hand_written_figures() -> None:
    assert numbers_outside_blocks(_analyzer_section()) == []
    assert numbers_outside_blocks(FULL_README.read_text(encoding="utf-8")) == []


def test_every_result_records_command_commit_and_machine() -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert doc.get("command") and doc.get("commit") and doc.get("machine")
    for run in doc.get("runs", []):
        assert run.get("command") and run.get("commit")


def test_the_checker_catches_a_figure_and_the_block_round_trips() -> None:
    text = "a\n<!-- generated:x (benchmarks/results_table.py; do not edit) -->\nold 12 %\n<!-- /generated:x -->\nb"
    assert numbers_outside_blocks(text) == []
    assert numbers_outside_blocks("slo reached 70-97 % at 0.2-1.45x the oracle") == ["97 %", "1.45x"]
    assert current_block(replace_block(text, "x", "new"), "x") == "new"
