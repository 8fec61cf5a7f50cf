"""The `--no-ray` runtime: the same cycle (shards, coordinator, core, adapters) in one asyncio process.

For tiny installs, fast tests and the demo's `--no-ray` mode. The shards are coroutines run concurrently with
the same proposal deadline as the Ray shard actors; a shard that misses it has its groups held.
Does I/O only through the adapters it is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from wva_ray.core.ports import MetricsSource
from wva_ray.core.reminder import Reminder
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.cycle import ShardProposal
from wva_ray.runtime.loop import cycle_loop
from wva_ray.runtime.shard_cycle import run_shard_step

log = logging.getLogger(__name__)


class LocalRuntime:
    """Coordinator and shards as coroutines of one event loop."""

    def __init__(self, core: CycleCore, source: MetricsSource, interval_s: float, deadline_s: float) -> None:
        self.core = core
        self.source = source
        self.interval_s = interval_s
        self.deadline_s = deadline_s
        self.cycles = 0
        self.said: dict[int, Reminder] = {}  # per shard: its source's failures, logged on change, not per step

    async def run_once(self) -> CycleReport:
        """One full cycle: observe, shard proposals (bounded by the deadline), allocate, publish."""
        works = await self.core.open()
        tasks = {
            s: asyncio.create_task(
                run_shard_step(w, self.source, w.snapshot.now, self.said.setdefault(s, Reminder())),
                name=f"wva-shard-{s}",
            )
            for s, w in works.items()
        }
        done, pending = await asyncio.wait(tasks.values(), timeout=self.deadline_s)
        for task in pending:
            task.cancel()
        proposals: dict[int, ShardProposal] = {}
        for s, task in tasks.items():
            if task in done and not task.cancelled() and task.exception() is None:
                proposals[s] = task.result()
        report = await self.core.close(proposals)
        self.cycles += 1
        return report

    async def run(
        self,
        stop: asyncio.Event,
        on_report: Callable[[CycleReport], None] | None = None,
        on_error: Callable[[BaseException, int], None] | None = None,
    ) -> None:
        """Cycle every `interval_s` until `stop` is set (failed cycles retry with backoff)."""

        def _error(exc: BaseException, attempt: int) -> None:
            if self.core.gauges is not None:
                self.core.gauges.count_error(type(exc).__name__)
            if on_error is not None:
                on_error(exc, attempt)

        await cycle_loop(self.run_once, self.interval_s, stop, on_result=on_report, on_error=_error)
