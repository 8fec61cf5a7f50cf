"""Analyzer V1 and its target rule (wva-behaviour.md 3.2), as tables of named cases."""

from __future__ import annotations

import pytest

from tests.core.builders import V, saturation, snapshot
from wva_ray.api.config import SaturationSettings
from wva_ray.core import decide
from wva_ray.core.analyzers.v1 import analyze_pods

S = SaturationSettings()


@pytest.mark.parametrize(
    ("pods", "up", "down_safe", "n"),
    [
        pytest.param([(0.75, 2), (0.76, 2)], True, False, 2, id="kv-spare-below-trigger"),
        pytest.param([(0.5, 3), (0.5, 3)], True, False, 2, id="queue-spare-below-trigger"),
        pytest.param([(0.5, 1), (0.5, 1)], False, False, 2, id="n2-would-overload-one-pod"),
        pytest.param([(0.1, 0), (0.1, 0)], False, True, 2, id="n2-light-load-safe"),
        pytest.param([(0.9, 0), (0.9, 0)], True, False, 0, id="all-saturated-kv"),
        pytest.param([(0.1, 5), (0.1, 7)], True, False, 0, id="all-saturated-queue-at-threshold"),
        pytest.param([(0.1, 0)], False, False, 1, id="single-pod-never-scale-down"),
        pytest.param([], True, False, 0, id="no-pods-means-no-spare"),
        pytest.param([(0.8, 0), (0.1, 0), (0.1, 0)], False, True, 2, id="saturated-pod-excluded-from-average"),
        pytest.param([(0.7, 0), (0.7, 0)], False, False, 2, id="spare-exactly-trigger-is-not-scale-up"),
    ],
)
def test_analyze_pods(pods: list[tuple[float, float]], up: bool, down_safe: bool, n: int) -> None:
    a = analyze_pods(pods, S)
    assert (a.scale_up, a.scale_down_safe, a.non_saturated) == (up, down_safe, n)


def desired(*variants: V, **extra: object) -> dict[str, int]:
    return {d.name: d.desired_replicas for d in decide(snapshot(*variants, **extra)).decisions}


HOT = [(0.75, 2), (0.75, 2)]
COLD = [(0.05, 0), (0.05, 0)]
MID = [(0.5, 1), (0.5, 1)]


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        pytest.param([V("a", HOT)], {"a": 3}, id="scale-up-one-step"),
        pytest.param([V("a", COLD)], {"a": 1}, id="scale-down-one-step"),
        pytest.param([V("a", MID)], {"a": 2}, id="hold-when-unsafe"),
        pytest.param(
            [V("a", HOT, cost="20"), V("b", HOT, cost="5"), V("c", HOT, cost="15")],
            {"a": 2, "b": 3, "c": 2},
            id="scale-up-cheapest",
        ),
        pytest.param([V("b", HOT, cost="5"), V("a", HOT, cost="5")], {"a": 3, "b": 2}, id="scale-up-tie-name-asc"),
        pytest.param(
            [V("a", COLD, cost="20"), V("b", COLD, cost="5")], {"a": 1, "b": 2}, id="scale-down-most-expensive"
        ),
        pytest.param(
            [V("a", COLD, cost="20"), V("b", COLD, cost="20")], {"a": 2, "b": 1}, id="scale-down-tie-name-desc"
        ),
        pytest.param(
            [V("a", HOT, cost="5", ready=1, current=2), V("b", HOT, cost="9")],
            {"a": 2, "b": 3},
            id="pending-replicas-skipped-for-scale-up",
        ),
        pytest.param(
            [V("a", HOT, cost="5", max_replicas=2), V("b", HOT, cost="9")],
            {"a": 2, "b": 3},
            id="at-max-skipped-for-scale-up",
        ),
        pytest.param(
            [V("a", COLD, cost="20", min_replicas=2), V("b", COLD, cost="5")],
            {"a": 2, "b": 1},
            id="at-min-skipped-for-scale-down",
        ),
        pytest.param([V("a", HOT, desired=4)], {"a": 4}, id="transition-lock-keeps-desired"),
        pytest.param([V("a", HOT, desired=4, since="2026-11-27T11:55:00Z")], {"a": 4}, id="lock-before-timeout-holds"),
        pytest.param([V("a", HOT, desired=4, since="2026-11-27T11:40:00Z")], {"a": 3}, id="lock-expired-rebaselines"),
        pytest.param([V("a", HOT, current=3)], {"a": 3}, id="pod-not-reporting-locks"),
        pytest.param([V("a", HOT, desired=2)], {"a": 3}, id="desired-equals-current-no-lock"),
    ],
)
def test_v1_targets(variants: list[V], expected: dict[str, int]) -> None:
    assert desired(*variants) == expected


def test_lock_timeout_is_configurable_and_reported() -> None:
    snap = snapshot(
        V("a", HOT, desired=4, since="2026-11-27T11:58:00Z"), config=saturation(transitionTimeoutSeconds=60)
    )
    d = decide(snap).decisions[0]
    assert d.desired_replicas == 3
    ready = next(c for c in d.conditions if c.type == "OptimizationReady")
    assert ready.reason == "TransitionTimedOut"


def test_config_thresholds_change_the_decision() -> None:
    # spare KV .045 triggers at the built-in .10 but not at .01
    assert desired(V("a", HOT)) == {"a": 3}
    cfg = saturation(kvSpareTrigger=0.01, queueSpareTrigger=1)
    assert desired(V("a", HOT), config=cfg) == {"a": 2}
