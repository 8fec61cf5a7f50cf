"""When to say a standing condition (a log line about a failing dependency, late shards): once when it starts or
changes, again every `every_s` while it lasts, once when it ends; never once per cycle. Pure: `now_s` is an input.

Found by the 5-minute Prometheus outage in the closed loop (tests/loop/test_faults.py): the coordinator logged
"shards late; their groups hold" in every one of the outage's 150 cycles, and each shard "metrics unavailable"
in every step, for a state the first line had already said.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum

REMIND_EVERY_S = 300.0


class Say(StrEnum):
    STARTED = "started"  # the state began, or changed to another one
    STILL = "still"  # the reminder: the same state for `every_s` more
    ENDED = "ended"


@dataclass
class Reminder:
    """One standing condition. `observe(state, now_s)` each cycle (`None`: the condition does not hold)."""

    every_s: float = REMIND_EVERY_S
    state: Hashable | None = None
    since_s: float = 0.0
    said_s: float = -math.inf
    unsaid: int = 0  # observations of the state since it was last said

    def observe(self, state: Hashable | None, now_s: float) -> Say | None:
        """What to say now, if anything."""
        if state is None:
            if self.state is None:
                return None
            self.state, self.unsaid = None, 0
            return Say.ENDED
        if state != self.state:
            self.state, self.since_s, self.said_s, self.unsaid = state, now_s, now_s, 0
            return Say.STARTED
        if now_s - self.said_s >= self.every_s:
            self.said_s, self.unsaid = now_s, 0
            return Say.STILL
        self.unsaid += 1
        return None
