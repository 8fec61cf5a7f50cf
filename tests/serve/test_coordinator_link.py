"""Unit tests of mode `coordinator` (the lookup contract, the follow rule) and of the background Poller."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.contexts import NOW_S, make_ctx
from wva_ray.serve.background import Fetched, Poller
from wva_ray.serve.coordinator_link import CoordinatorTarget, follow_coordinator, parse_target
from wva_ray.serve.policy import WvaSaturationPolicy
from wva_ray.serve.settings import CoordinatorSettings
from wva_ray.serve.state import DeploymentView, Reason

SETTINGS = CoordinatorSettings(poll_interval_s=1.0, timeout_s=2.0, max_decision_age_s=120.0)
VIEW = DeploymentView(now_s=NOW_S, current=2, target=2, min_replicas=1, max_replicas=6)


def _fetched(desired: int | None, *, fetch_age_s: float = 0.5, decision_age_s: float = 10.0) -> Any:
    value = None if desired is None else CoordinatorTarget(desired, NOW_S - decision_age_s)
    return Fetched(value, NOW_S - fetch_age_s)


@pytest.mark.parametrize(
    ("fetched", "expected", "reason"),
    [
        pytest.param(_fetched(4), 4, Reason.COORDINATOR, id="follows-fresh-decision"),
        pytest.param(_fetched(9), 6, Reason.COORDINATOR, id="clamped-to-max"),
        pytest.param(_fetched(0), 1, Reason.COORDINATOR, id="clamped-to-min"),
        pytest.param(None, 2, Reason.COORDINATOR_MISSING, id="never-fetched-holds"),
        pytest.param(_fetched(None), 2, Reason.COORDINATOR_MISSING, id="no-decision-for-deployment-holds"),
        pytest.param(_fetched(4, fetch_age_s=5.01), 2, Reason.COORDINATOR_MISSING, id="coordinator-unreachable-holds"),
        pytest.param(_fetched(4, fetch_age_s=4.99), 4, Reason.COORDINATOR, id="fetch-within-staleness-limit"),
        pytest.param(_fetched(4, decision_age_s=121), 2, Reason.COORDINATOR_MISSING, id="decision-too-old-holds"),
    ],
)
def test_follow_coordinator(fetched: Any, expected: int, reason: Reason) -> None:
    d = follow_coordinator(VIEW, fetched, SETTINGS)
    assert (d.desired, d.reason) == (expected, reason)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        pytest.param(3, "expected a dict or None", id="not-a-dict"),
        pytest.param({"desired_replicas": -1, "decided_at_s": 1.0}, "desired_replicas", id="negative"),
        pytest.param({"desired_replicas": True, "decided_at_s": 1.0}, "desired_replicas", id="bool"),
        pytest.param({"desired_replicas": 2}, "decided_at_s", id="no-time"),
        pytest.param({"desired_replicas": 2, "decided_at_s": float("nan")}, "decided_at_s", id="nan-time"),
    ],
)
def test_parse_target_rejects_malformed_answers(raw: Any, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_target(raw)


def test_parse_target_accepts_contract_shapes() -> None:
    assert parse_target(None) is None
    assert parse_target({"desired_replicas": 3, "decided_at_s": 5}) == CoordinatorTarget(3, 5.0)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_poller_keeps_last_good_value_on_failure() -> None:
    answers: list[Any] = [7, RuntimeError("actor gone"), 9]
    clock = _FakeClock()

    def fetch() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    poller: Poller[int] = Poller("t", fetch, 1.0, clock=clock)
    assert poller.latest() is None
    assert poller.refresh_once()
    clock.now = 101.0
    assert not poller.refresh_once()
    assert poller.latest() == Fetched(7, 100.0)
    assert poller.last_error == "RuntimeError: actor gone"
    clock.now = 102.0
    assert poller.refresh_once()
    assert poller.latest() == Fetched(9, 102.0)
    assert poller.last_error is None


def test_poller_rejects_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Poller("t", lambda: 1, 0.0)


def test_coordinator_mode_holds_before_first_answer() -> None:
    """The first tick happens before the poller thread has answered: hold, never block."""
    policy = WvaSaturationPolicy(mode="coordinator", coordinator={"actor_name": "no-such-actor-xyz"})
    decision = policy.decide(make_ctx({}, running=["a", "b"]))
    assert (decision.desired, decision.reason) == (2, Reason.COORDINATOR_MISSING)
