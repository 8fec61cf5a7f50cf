"""Clocks: the wall clock, and a scaled clock for compressed time (demo, fast-clock tests). Reads the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """Time that runs `speed` times faster than the wall clock from `origin` (the demo's compressed time).

    `origin_wall_s` is a `time.time()` value, so every process of the demo agrees on the same virtual time.
    """

    origin: datetime
    origin_wall_s: float
    speed: float

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.origin_wall_s) * self.speed)
