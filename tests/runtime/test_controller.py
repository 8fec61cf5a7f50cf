"""Controller pieces without a cluster: readiness rules and the leader gate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from wva_ray.api.plan import Decision
from wva_ray.runtime.controller import Health, LeaderGate, NotLeaderError


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
    h = Health(interval_s=10.0, leader_election=leader_election, leader=leader)
    if published_ago_s is not None:
        h.last_publish_s = time.monotonic() - published_ago_s
    assert h.ready() is ready


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
