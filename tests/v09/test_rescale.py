"""Priority rescale (v0.9 `enableRescale` + entry `priority`; upstream-v0.9.md section 4): under contention the
free GPUs are shared floor + (B - sum floor) * w / sum w with w = priority x demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.core.builders import V, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.allocation import Budget, Proposal, allocate, rescale_caps
from wva_ray.core.decide import decide


def _p(key: str, current: int, desired: int, priority: int) -> Proposal:
    return Proposal(key, key, key.split("/")[1], "H100", 1, current, desired, rescale_priority=priority)


def test_upstreams_example_eight_gpus_priority_one_and_three() -> None:
    a, b = _p("llm/a", 0, 8, 1), _p("llm/b", 0, 8, 3)
    grants = allocate([a, b], Budget(free_gpus={"H100": 8}, rescale=True))
    assert (grants["llm/a"].desired, grants["llm/b"].desired) == (2, 6)


def test_without_rescale_priority_order_takes_all() -> None:
    a, b = _p("llm/a", 0, 8, 1), _p("llm/b", 0, 8, 3)
    grants = allocate([a, b], Budget(free_gpus={"H100": 8}))
    assert (grants["llm/a"].desired, grants["llm/b"].desired) == (8, 0)


def test_no_contention_no_caps_and_leftovers_go_to_the_heaviest() -> None:
    assert rescale_caps([_p("llm/a", 0, 2, 1), _p("llm/b", 0, 3, 3)], {"H100": 8}) == {}
    # 5 free, weights 1x3 and 3x3: shares 1.25 and 3.75 -> 1 and 3; the rounding leftover goes to the heaviest
    # weight that still wants one: b is met at 3, so a gets it
    grants = allocate([_p("llm/a", 0, 3, 1), _p("llm/b", 0, 3, 3)], Budget(free_gpus={"H100": 5}, rescale=True))
    assert (grants["llm/a"].desired, grants["llm/b"].desired) == (2, 3)


NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _two_models(default: dict[str, Any]) -> dict[str, int]:
    # each model: 1 pod at KV 0.95 with 100 waiting of 500 tokens -> 65200 tokens of demand -> asks for +5
    a = V("a", [(0.95, 100.0)], model="ma", kv_tokens=16000, avg_in=500, avg_out=200)
    b = V("b", [(0.95, 100.0)], model="mb", kv_tokens=16000, avg_in=500, avg_out=200)
    config = {"saturation": {"default": default, "mb#llm": {"priority": 3}}}
    data = snapshot_dict(a, b, config=config, gpuAvailable={"H100": 4})
    return {d.name: d.desired_replicas for d in decide(Snapshot.model_validate(data), NOW).decisions}


def test_rescale_through_the_pipeline_uses_the_override_priority() -> None:
    base = {"analyzerName": "saturation", "enableLimiter": True}
    assert _two_models(base) == {"a": 5, "b": 1}  # priority order (ties by name): a takes all 4
    assert _two_models({**base, "enableRescale": True}) == {"a": 2, "b": 4}  # shares 4*5/20 = 1, 4*15/20 = 3
