"""Every acceptance case in ../shared/spec/acceptance passes through the real `wva-ray plan` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED

CASES = sorted((SHARED / "spec" / "acceptance").glob("*.json"))


def run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wva_ray", "plan", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_acceptance_cases_exist() -> None:
    assert len(CASES) >= 6, f"expected the acceptance cases under {SHARED / 'spec' / 'acceptance'}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_acceptance_case(case: Path, tmp_path: Path) -> None:
    data = json.loads(case.read_text())
    snap = tmp_path / "snapshot.json"
    snap.write_text(json.dumps(data["snapshot"]))
    proc = run_plan(str(snap), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    got = {f"{d['namespace']}/{d['name']}": d["desiredReplicas"] for d in plan["decisions"]}
    assert got == data["expected"], data["description"]
    keys = [(d["namespace"], d["name"]) for d in plan["decisions"]]
    assert keys == sorted(keys)
    for d in plan["decisions"]:
        assert d["action"] in ("scale-up", "scale-down", "no-change")
        assert d["reason"] and isinstance(d["steps"], list) and d["conditions"]


def test_table_format_prints_every_variant() -> None:
    case = SHARED / "spec" / "acceptance" / "v1-cheapest-variant-scales-up.json"
    proc = run_plan(str(case), "--format", "table")
    assert proc.returncode == 0, proc.stderr
    for name in ("m1-cheap", "m1-expensive", "m1-medium"):
        assert name in proc.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{", "not valid JSON", id="bad-json"),
        pytest.param("[]", "expected a JSON object", id="not-object"),
        pytest.param('{"now": "2026-11-27T12:00:00Z", "bogus": 1}', "bogus: unknown key", id="unknown-key"),
        pytest.param("{}", "now: required key is missing", id="missing-now"),
        pytest.param(
            '{"now": "2026-11-27T12:00:00Z", "metrics": [{"namespace": "a", "modelName": "m", "pod": "p", '
            '"kvCacheUsage": "high", "queueLength": 0}]}',
            "metrics[0].kvCacheUsage",
            id="wrong-type-names-path",
        ),
    ],
)
def test_bad_snapshot_exits_2_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    snap = tmp_path / "s.json"
    snap.write_text(content)
    proc = run_plan(str(snap))
    assert proc.returncode == 2
    assert message in proc.stderr and str(snap) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_missing_file_exits_2() -> None:
    proc = run_plan("/nonexistent/snapshot.json")
    assert proc.returncode == 2 and "no such file" in proc.stderr
