"""Acceptance cases for WVA v0.9 configuration and annotation discovery (tests/v09/acceptance, the snapshot format
of ../shared/spec/snapshot-format.md with our optional keys), each through the real `wva-ray plan` command.
Optional case keys (ours): `expectedWarnings` (substrings that must appear in the plan's warnings) and
`expectedSources` (decision key -> the scaler kind it was discovered from, null for a VariantAutoscaling)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CASES = sorted((Path(__file__).parent / "acceptance").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_v09_acceptance_case(case: Path) -> None:
    data = json.loads(case.read_text())
    proc = subprocess.run(
        [sys.executable, "-m", "wva_ray", "plan", str(case), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    got = {f"{d['namespace']}/{d['name']}": d["desiredReplicas"] for d in plan["decisions"]}
    assert got == data["expected"], data["description"]
    for text in data.get("expectedWarnings", []):
        assert any(text in w for w in plan["warnings"]), (text, plan["warnings"])
    sources = {f"{d['namespace']}/{d['name']}": (d.get("source") or {}).get("kind") for d in plan["decisions"]}
    for key, kind in data.get("expectedSources", {}).items():
        assert sources[key] == kind, key


def test_there_are_v09_cases() -> None:
    assert len(CASES) >= 8
