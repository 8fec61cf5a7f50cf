"""An `Emulator` running in a background thread with its own event loop, driven from synchronous code (tests,
benchmarks, scripts). Does network I/O (via `emulator`).

    with EmulatorThread() as emu:
        pod = emu.start_pod(PodSpec(name="a", model="m1"))
        ... emu.file_sd_targets() ...
        emu.stop_pod("a")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from wva_ray.sim.emulator.server import EmulatedPod, Emulator, PodSpec

T = TypeVar("T")


class EmulatorThread:
    """Owns a thread, its event loop and one `Emulator`; every method blocks until the loop has done it."""

    def __init__(self, call_timeout_s: float = 30.0) -> None:
        self._timeout = call_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="emulator-loop", daemon=True)
        self._thread.start()
        self.emulator = Emulator()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout)

    def start_pod(self, spec: PodSpec) -> EmulatedPod:
        return self.call(self.emulator.start_pod(spec))

    def stop_pod(self, name: str) -> None:
        self.call(self.emulator.stop_pod(name))

    def file_sd_targets(self) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            return self.emulator.file_sd_targets()

        return self.call(read())

    def close(self) -> None:
        if not self._loop.is_closed():
            self.call(self.emulator.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._timeout)
            self._loop.close()

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
