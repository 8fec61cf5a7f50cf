"""Analyzer `slo` wired into decide(): visible in the plan, state carried, class priority into allocation."""

from __future__ import annotations

from typing import Any

from tests.core.builders import V, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SLO = {"saturation": {"default": {"analyzerName": "slo"}}}


def slo_snapshot(rate_per_pod: float, pods: int = 2, **extra: Any) -> dict[str, Any]:
    v = V("llama-h100", [(0.2, 0)] * pods, model=MODEL, kv_tokens=400_000, avg_in=1000, avg_out=200)
    data = snapshot_dict(v, config=extra.pop("config", SLO), **extra)
    for row in data["metrics"]:
        row["arrivalRate"] = rate_per_pod
    return data


def test_slo_sizes_for_the_rate_and_says_so() -> None:
    plan = decide(Snapshot.model_validate(slo_snapshot(20.0)))
    d = plan.decisions[0]
    assert d.analyzer == "slo"
    assert d.desired_replicas > 2  # 40 req/s is more than two 8B/H100 replicas meet at the default class
    assert "req/s" in d.reason and "class" in d.reason
    assert any(s.startswith("slo:") for s in d.steps)
    assert f"llm/{MODEL}" in plan.state.slo


def test_slo_light_load_never_below_one() -> None:
    d = decide(Snapshot.model_validate(slo_snapshot(0.5))).decisions[0]
    assert 1 <= d.desired_replicas <= 2


def test_slo_more_rate_never_fewer_replicas() -> None:
    got = [decide(Snapshot.model_validate(slo_snapshot(r))).decisions[0].desired_replicas for r in (1, 5, 10, 20, 40)]
    assert got == sorted(got)


def test_slo_state_round_trips_through_the_plan() -> None:
    first = decide(Snapshot.model_validate(slo_snapshot(10.0)))
    data = slo_snapshot(10.0, state=first.state.model_dump(by_alias=True))
    data["now"] = "2026-11-27T12:00:30Z"
    second = decide(Snapshot.model_validate(data))
    assert second.state.slo[f"llm/{MODEL}"] != {}


def test_unknown_model_falls_back_to_v2_safety_net() -> None:
    v = V("other", [(0.9, 6), (0.9, 6)], model="no-such-model", kv_tokens=16000, avg_in=100, avg_out=50)
    d = decide(Snapshot.model_validate(snapshot_dict(v, config=SLO))).decisions[0]
    assert d.desired_replicas == 3  # what V2 alone decides for this load (tests/core/test_v2.py)
    assert any("no performance profile" in s for s in d.steps)


def test_bad_service_class_config_is_a_warning() -> None:
    cfg = {**SLO, "serviceClasses": {"gold": "name: gold\npriority: x"}}
    plan = decide(Snapshot.model_validate(slo_snapshot(5.0, config=cfg)))
    assert any("config.serviceClasses.gold" in w for w in plan.warnings)
