"""Scale-to-zero, model minimum, scale-from-zero, per-variant bounds (wva-behaviour.md 3.4)."""

from __future__ import annotations

import pytest

from tests.core.builders import V, snapshot
from wva_ray.core import decide

IDLE = [(0.0, 0), (0.0, 0)]
STZ_ON = {"scaleToZero": {"default": {"enable_scale_to_zero": True, "retention_period": "10m"}}}


def desired(*variants: V, **extra: object) -> dict[str, int]:
    return {d.name: d.desired_replicas for d in decide(snapshot(*variants, **extra)).decisions}


def counts(n: float) -> list[dict[str, object]]:
    return [{"namespace": "llm", "modelName": "m1", "count": n}]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"config": STZ_ON, "request_counts": counts(0)}, {"a": 0, "b": 0}, id="idle-to-zero"),
        pytest.param({"config": STZ_ON, "request_counts": counts(3)}, {"a": 1, "b": 1}, id="traffic-keeps"),
        pytest.param({"config": STZ_ON}, {"a": 1, "b": 1}, id="unknown-count-keeps"),
        pytest.param({"request_counts": counts(0)}, {"a": 1, "b": 1}, id="disabled-ignores-count"),
        pytest.param(
            {
                "config": {
                    "scaleToZero": {
                        "default": {"enable_scale_to_zero": False},
                        "m": {"model_id": "m1", "enable_scale_to_zero": True},
                    }
                },
                "request_counts": counts(0),
            },
            {"a": 0, "b": 0},
            id="model-entry-beats-default",
        ),
        pytest.param(
            {"config": {"scaleToZeroFallback": True}, "request_counts": counts(0)},
            {"a": 0, "b": 0},
            id="env-fallback",
        ),
    ],
)
def test_scale_to_zero(extra: dict[str, object], expected: dict[str, int]) -> None:
    # V1 alone would scale b (the most expensive) down by one: 2 -> 1 (a stays at 1)
    assert desired(V("a", [(0.0, 0)], cost="5"), V("b", IDLE, cost="9"), **extra) == expected


def test_min_replicas_prevents_scale_to_zero() -> None:
    got = desired(V("a", IDLE, min_replicas=1), config=STZ_ON, request_counts=counts(0))
    assert got == {"a": 1}


def test_model_minimum_cheapest_gets_one() -> None:
    got = desired(V("a", [], current=0, cost="9"), V("b", [], current=0, cost="3"))
    assert got == {"a": 0, "b": 1}


def test_scale_from_zero_wakes_only_the_cheapest() -> None:
    queues = [{"namespace": "llm", "modelName": "m1", "size": 4}]
    got = desired(
        V("a", [], current=0, cost="9", desired=0),
        V("b", [], current=0, cost="3", desired=0),
        config=STZ_ON,
        request_counts=counts(0),
        flow_control_queues=queues,
    )
    assert got == {"a": 0, "b": 1}


def test_max_replicas_clamps_held_value() -> None:
    assert desired(V("a", [], current=5, max_replicas=3)) == {"a": 3}
