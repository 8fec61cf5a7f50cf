"""Controller pieces without a cluster: readiness rules and the leader gate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from wva_ray.api.plan import Decision
from wva_ray.runtime.controller import LeaderGate, NotLeaderError
from wva_ray.runtime.health import Health, LivenessPolicy


@pytest.mark.parametrize(
    ("leader_election", "leader", "published_ago_s", "ready"),
    [
        pytest.param(True, False, None, True, id="standby-is-ready"),
        pytest.param(False, False, None, False, id="no-election-not-leader"),
        pytest.param(True, True, None, False, id="leader-before-first-publish"),
        pytest.param(True, True, 1.0, True, id="leader-fresh"),
        pytest.param(True, True, 100.0, False, id="leader-stale"),
    ],
)
def test_readiness(leader_election: bool, leader: bool, published_ago_s: float | None, ready: bool) -> None:
    now = 1000.0
    h = Health(interval_s=10.0, leader_election=leader_election, leader=leader)
    if published_ago_s is not None:
        h.last_publish_s = now - published_ago_s
    assert h.ready(now) is ready


LIVE = LivenessPolicy(intervals=3.0, startup_grace_s=60.0)


@pytest.mark.parametrize(
    ("leader", "lead_ago_s", "cycle_ago_s", "loop_alive", "alive", "says"),
    [
        pytest.param(False, None, None, True, True, "standby", id="standby-alive-without-cycles"),
        pytest.param(True, 10.0, None, True, True, "first cycle pending", id="new-leader-in-grace"),
        pytest.param(True, 90.0, None, True, True, "first cycle pending", id="new-leader-at-grace-end"),
        pytest.param(True, 91.0, None, True, False, "since leading with the runtime up", id="new-leader-never-cycled"),
        pytest.param(True, 500.0, 29.0, True, True, "last cycle finished", id="cycling"),
        pytest.param(True, 500.0, 30.0, True, True, "last cycle finished", id="at-the-limit"),
        pytest.param(True, 500.0, 31.0, True, False, "no cycle finished for 31 s", id="stalled"),
        pytest.param(False, None, None, False, False, "stopped", id="loop-stopped"),
    ],
)
def test_liveness_is_cycle_liveness(
    leader: bool, lead_ago_s: float | None, cycle_ago_s: float | None, loop_alive: bool, alive: bool, says: str
) -> None:
    now = 1000.0
    h = Health(interval_s=10.0, leader_election=True, policy=LIVE, loop_alive=loop_alive)
    if leader:
        h.became_leader(now - (lead_ago_s or 0.0))
    if cycle_ago_s is not None:
        h.cycle_finished(now - cycle_ago_s, published=False, error="KubeApiError: 503")
    ok, reason = h.liveness(now)
    assert (ok, says in reason) == (alive, True), reason
    assert "\n" not in reason
    if not ok and cycle_ago_s is not None:
        assert "KubeApiError: 503" in reason  # the last error is named


def test_a_failed_cycle_keeps_liveness_but_not_readiness() -> None:
    h = Health(interval_s=10.0, leader_election=True, policy=LIVE)
    h.became_leader(0.0)
    h.cycle_finished(5.0, published=True)
    h.cycle_finished(60.0, published=False, error="TransientApiError: refused")
    assert h.liveness(65.0)[0] and not h.ready(65.0)
    h.became_leader(100.0)  # a new term starts from scratch: nothing of the old one counts
    assert h.last_cycle_s is None and h.liveness(150.0)[0] and not h.liveness(200.0)[0]


@pytest.mark.parametrize(
    ("starting_for_s", "started_ago_s", "alive", "says"),
    [
        pytest.param(10.0, None, True, "starting the runtime (10 s of 300 s", id="ray-starting"),
        pytest.param(250.0, None, True, "starting the runtime", id="slow-ray-start-beyond-the-first-cycle-grace"),
        pytest.param(301.0, None, False, "the runtime did not start in 301 s", id="ray-start-stuck"),
        pytest.param(250.0, 80.0, True, "first cycle pending (80 s of 90 s", id="grace-counts-from-the-start"),
        pytest.param(250.0, 91.0, False, "no cycle finished in the 91 s", id="started-never-cycled"),
    ],
)
def test_the_runtime_start_has_its_own_bound_and_the_first_cycle_grace_follows_it(
    starting_for_s: float, started_ago_s: float | None, alive: bool, says: str
) -> None:
    now = 1000.0
    h = Health(interval_s=10.0, leader_election=True, policy=LivenessPolicy(3.0, 60.0, runtime_start_s=300.0))
    h.became_leader(now - starting_for_s - 1.0)
    h.runtime_starting(now - starting_for_s)
    if started_ago_s is not None:
        h.runtime_started(now - started_ago_s)
    ok, reason = h.liveness(now)
    assert (ok, says in reason) == (alive, True), reason


class _Elector:
    def __init__(self, leader: bool) -> None:
        self.is_leader = leader


class _Recorder:
    def __init__(self) -> None:
        self.calls = 0

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        self.calls += 1


def test_leader_gate_blocks_writes_without_the_lease() -> None:
    rec = _Recorder()
    elector: Any = _Elector(False)
    gate = LeaderGate(rec, elector)
    with pytest.raises(NotLeaderError):
        asyncio.run(gate.publish([], datetime.now(UTC)))
    assert rec.calls == 0
    elector.is_leader = True
    asyncio.run(gate.publish([], datetime.now(UTC)))
    assert rec.calls == 1
