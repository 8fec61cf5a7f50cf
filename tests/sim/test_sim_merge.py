"""benchmarks/sim_merge.py pools runs of one scenario over seeds: means and CIs over every seed that finished,
a later run's row replacing an earlier one for the same seed and policy."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sim_merge", ROOT / "benchmarks" / "sim_merge.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(rows: dict[str, dict[str, float]], violations: list[str] | None = None) -> dict[str, Any]:
    """One run's scenario entry, as wva_ray.sim.bench.runner writes it (only the keys the merge reads)."""
    seeds = sorted(int(s) for s in rows)
    return {
        "seeds": seeds,
        "policies": {"p": {"gpu_hours": sum(r["gpu_hours"] for r in rows.values()) / len(rows)}},
        "bounds": {},
        "oracle_violations": violations or [],
        "per_seed": {
            "policies": {"p": rows},
            "bounds": {s: {"causal_max_attainment": 0.9} for s in rows},
        },
    }


def test_seeds_of_two_runs_are_pooled() -> None:
    merged = _module().merge_scenario(
        _run({"1": {"gpu_hours": 2.0, "slo_attainment": 0.9}}),
        _run({"2": {"gpu_hours": 4.0, "slo_attainment": 0.7}, "3": {"gpu_hours": 6.0, "slo_attainment": 0.8}}),
    )
    assert merged["seeds"] == [1, 2, 3]
    row = merged["policies"]["p"]
    assert row["seeds"] == 3
    assert row["gpu_hours"] == pytest.approx(4.0)
    assert row["slo_attainment"] == pytest.approx(0.8)
    assert row["gpu_hours_ci95"] > 0
    assert merged["bounds"]["causal_max_attainment"] == pytest.approx(0.9)


def test_a_later_row_for_the_same_seed_replaces_the_earlier() -> None:
    old = _run({"1": {"gpu_hours": 2.0}, "2": {"gpu_hours": 4.0}}, ["S seed 1 p: beaten"])
    merged = _module().merge_scenario(old, _run({"1": {"gpu_hours": 8.0}}))
    assert merged["policies"]["p"]["gpu_hours"] == pytest.approx(6.0)
    assert merged["oracle_violations"] == []  # the replaced row's violation went with it
