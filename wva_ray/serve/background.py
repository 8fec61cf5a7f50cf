"""A value refreshed by a daemon thread so the Serve controller's 0.1 s loop never waits on I/O. Does no I/O
itself: it calls the `fetch` function it is given (which does).

`latest()` is a single attribute read (atomic in CPython): the policy tick never blocks and never takes a lock.
A failed fetch keeps the previous value and its time, so staleness is judged by the reader against the Serve
context's time. The thread holds only a weak reference to its `Poller`: when Serve replaces the policy instance
(a redeploy), the old thread notices and exits on its next wake-up.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

logger = logging.getLogger("ray.serve.wva")


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """The last successful fetch and when it completed (Unix seconds, same clock as Serve's `current_time`)."""

    value: T
    at_s: float


class Poller(Generic[T]):
    """Calls `fetch()` every `interval_s` on a daemon thread once `ensure_started()` was called."""

    def __init__(
        self,
        name: str,
        fetch: Callable[[], T],
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.name = name
        self._fetch = fetch
        self._interval_s = interval_s
        self._clock = clock
        self._latest: Fetched[T] | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def latest(self) -> Fetched[T] | None:
        """The last good value, or None if no fetch has succeeded yet. Never blocks."""
        return self._latest

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def refresh_once(self) -> bool:
        """Fetch now (on the caller's thread). Returns True on success; errors are kept, logged on change."""
        try:
            value = self._fetch()
        except Exception as err:  # any fetch failure means "no new data": hold
            message = f"{type(err).__name__}: {err}"
            if message != self._last_error:
                logger.warning("wva poller %s: fetch failed (holding last value): %s", self.name, message)
            self._last_error = message
            return False
        self._latest = Fetched(value, self._clock())
        if self._last_error is not None:
            logger.info("wva poller %s: fetch recovered", self.name)
        self._last_error = None
        return True

    def ensure_started(self) -> None:
        """Start the daemon thread once; later calls are no-ops (cheap enough for every tick)."""
        if self._thread is not None:
            return
        thread = threading.Thread(
            target=_run,
            args=(weakref.ref(self), self._stop, self._interval_s),
            name=f"wva-poller-{self.name}",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def stop(self) -> None:
        """Ask the thread to exit at its next wake-up (it also exits when the Poller is garbage collected)."""
        self._stop.set()


def _run(ref: weakref.ref[Poller[T]], stop: threading.Event, interval_s: float) -> None:
    while not stop.is_set():
        poller = ref()
        if poller is None:
            return
        poller.refresh_once()
        del poller
        stop.wait(interval_s)
