"""The cycle loop shared by every driver: run a cycle, wait for the interval, retry failures with backoff.
No I/O of its own; `sleep` is injected so that tests run on fake time.

Timing is by deadline, not by ticks: the next cycle starts `interval_s` after the previous one STARTED (a slow
cycle shortens the wait instead of stretching the period). A failed cycle is retried after 0.1 s, doubling up to
4 s, until it succeeds or the stop event is set (upstream WVA's backoff).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 4.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: start, doubling, capped."""

    start_s: float = BACKOFF_START_S
    max_s: float = BACKOFF_MAX_S

    def delay_s(self, failures: int) -> float:
        """Delay after `failures` consecutive failures (1 -> start)."""
        if failures < 1:
            return 0.0
        return float(min(self.max_s, self.start_s * 2.0 ** (failures - 1)))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float, sleep: Callable[[float], Awaitable[None]]) -> None:
    if seconds <= 0 or stop.is_set():
        return
    waiter = asyncio.ensure_future(stop.wait())
    sleeper = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, sleeper):
            task.cancel()


async def cycle_loop(
    run_once: Callable[[], Awaitable[T]],
    interval_s: float,
    stop: asyncio.Event,
    *,
    on_result: Callable[[T], None] | None = None,
    on_error: Callable[[BaseException, int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    backoff: Backoff = Backoff(),
) -> None:
    """Run `run_once` every `interval_s` until `stop` is set."""
    failures = 0
    while not stop.is_set():
        started = monotonic()
        try:
            result = await run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed cycle is retried, never fatal
            failures += 1
            log.warning("cycle failed (attempt %d): %s", failures, exc)
            if on_error is not None:
                on_error(exc, failures)
            await _sleep_or_stop(stop, backoff.delay_s(failures), sleep)
            continue
        failures = 0
        if on_result is not None:
            on_result(result)
        await _sleep_or_stop(stop, interval_s - (monotonic() - started), sleep)
