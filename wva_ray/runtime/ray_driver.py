"""The controller's side of the Ray runtime: start the actors, follow the coordinator's cycles, relay its gauges,
and outlive the death of any actor. Does I/O (Ray calls; Events through the sink it is given).

Why it is built this way (defect found by tests/loop/test_faults.py: a shard's and then the coordinator's worker
process SIGKILLed; before, the first `ActorUnavailableError` ended the lead loop, stopped every actor and left the
process up with no cycles, no gauges and a frozen lastRunTime):

- Ray restarts a dead actor process by itself (`max_restarts=-1`) behind the same handle: a call in flight when
  the process died fails (`ActorUnavailableError`), later calls wait until the new incarnation is up. So the
  driver treats every Ray error and every timed-out call as "unavailable, keep polling", never as the end of
  leading; each call is bounded by `call_timeout_s`.
- A coordinator Ray will not bring back (`ActorDiedError`: restarts exhausted, its constructor failed, killed with
  no_restart), or one silent for `recreate_after_s`, is killed for good and created again under its name; the
  shards look it up by name. A shard that is permanently dead is made again the same way.
- The restarted coordinator is a new epoch: its cycle counter starts again at 1, so progress is tracked as
  (epoch, cycle), not by cycle number alone (the old driver waited for cycle numbers it had already seen).
- During the gap decisions hold: the relayed gauges keep the last published values (the HPA keeps following
  them, never a drop to nothing or zero) until the new incarnation has published a cycle of its own; VA status
  keeps its last values; nothing is written.
- Each gap is said once: a Warning Event `CoordinatorUnavailable` when it starts, a Normal
  `CoordinatorRecovered` with the measured gap when a cycle publishes again; `ShardsLate` / `ShardsBack` when
  shards miss the proposal deadline and when they all answer again. The sink puts them on the leader Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ray.exceptions import ActorDiedError, RayError

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.runtime.coordinator_actor import CoordinatorOptions, Heartbeat
from wva_ray.runtime.health import Health
from wva_ray.runtime.launch import RayRuntime, replace_coordinator, replace_shard, start_ray_runtime, stop_ray_runtime
from wva_ray.runtime.wiring import Wiring

log = logging.getLogger(__name__)

EventSink = Callable[[str, str, bool], Awaitable[None]]  # (reason, message, warning)

POLL_S = 1.0
LATE_AFTER_CYCLES = 2  # a shard late this many cycles in a row is said (ShardsLate)
SHARD_CHECK_AFTER_CYCLES = 3  # a shard late this many cycles in a row is asked whether it is alive at all


async def _log_only(reason: str, message: str, warning: bool) -> None:
    log.log(logging.WARNING if warning else logging.INFO, "%s: %s", reason, message)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


@dataclass
class _Outage:
    since_s: float
    error: str
    replaced: int = 0


class RayDriver:
    """Owns the actors of one leadership term. `run` returns when `term` is set."""

    def __init__(
        self,
        wiring: Wiring,
        options: CoordinatorOptions,
        gauges: GaugeExporter,
        health: Health,
        events: EventSink = _log_only,
        *,
        call_timeout_s: float | None = None,
        recreate_after_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.wiring = wiring
        self.options = options
        self.gauges = gauges
        self.health = health
        self.events = events
        self.call_timeout_s = call_timeout_s or max(5.0, 2 * options.interval_s)
        self.recreate_after_s = recreate_after_s or max(60.0, 10 * options.interval_s)
        self.monotonic = monotonic
        self.rt: RayRuntime | None = None
        self.epoch = ""
        self.seen_cycle = 0
        self.attempts = 0
        self.relay_ready = False  # the current epoch has published: its gauges may replace the held ones
        self.relayed_s = float("-inf")
        self.outage: _Outage | None = None
        self.late: dict[int, int] = {}  # shard -> consecutive cycles late
        self.late_said = False  # a ShardsLate Event is standing
        self.recoveries_s: deque[float] = deque(maxlen=64)  # measured gaps (for tests and logs)

    async def run(self, term: asyncio.Event) -> None:
        self.health.last_error = "starting the Ray actors: no answer from the coordinator yet"
        self.rt = await asyncio.to_thread(start_ray_runtime, self.wiring, self.options)  # named actors: GCS calls
        self.health.runtime_started(self.monotonic())
        try:
            while not term.is_set():
                await self.poll_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(term.wait(), POLL_S)
        finally:
            self.gauges.relay.clear()  # no decision gauges while not leading
            await asyncio.to_thread(stop_ray_runtime, self.rt)

    async def poll_once(self) -> None:
        assert self.rt is not None
        now = self.monotonic()
        try:
            ref = self.rt.coordinator.heartbeat.remote(self.epoch, self.seen_cycle)
            beat: Heartbeat = await asyncio.wait_for(_awaitable(ref), self.call_timeout_s)
        except (RayError, TimeoutError) as exc:
            await self._unavailable(now, exc)
            return
        await self._answered(now, beat)

    async def _unavailable(self, now: float, exc: BaseException) -> None:
        error = _short(exc) if not isinstance(exc, TimeoutError) else f"no answer within {self.call_timeout_s:g} s"
        self.health.last_error = f"coordinator actor: {error}"
        dead = isinstance(exc, ActorDiedError)
        if not self.epoch and not dead:
            return  # still starting (slow on a loaded node): not an outage; liveness bounds the wait
        if self.outage is None:
            self.outage = _Outage(now, error)
            await self.events(
                "CoordinatorUnavailable",
                f"coordinator actor unreachable ({error}); decisions held at their last published values",
                True,
            )
        silent = now - self.outage.since_s >= self.recreate_after_s * (self.outage.replaced + 1)
        if dead or silent:
            await self._replace_coordinator(
                "dead for good" if dead else f"silent for {now - self.outage.since_s:.0f} s"
            )

    async def _replace_coordinator(self, why: str) -> None:
        assert self.rt is not None and self.outage is not None
        try:
            self.rt = await asyncio.to_thread(replace_coordinator, self.rt)
        except Exception as exc:  # the old name is still held: try again at the next poll
            log.warning("coordinator not re-created yet (%s): %s", why, exc)
            return
        self.outage.replaced += 1
        log.warning("coordinator re-created (%s)", why)

    async def _answered(self, now: float, beat: Heartbeat) -> None:
        if beat.epoch != self.epoch:
            if self.epoch:  # an earlier incarnation published: this one is a restart
                log.warning("coordinator restarted: epoch %s -> %s", self.epoch, beat.epoch)
                if self.outage is None:  # it died and came back between two polls
                    self.outage = _Outage(now, "restarted between two polls")
                    await self.events(
                        "CoordinatorUnavailable",
                        "coordinator actor restarted; decisions held at their last published values",
                        True,
                    )
                self.relay_ready = False
            self.epoch, self.seen_cycle, self.attempts = beat.epoch, 0, 0
        if beat.attempts > self.attempts:
            self.attempts = beat.attempts
            self.health.cycle_finished(now, published=bool(beat.summaries), error=beat.last_error)
        if beat.summaries:
            last = beat.summaries[-1]
            self.seen_cycle = last.cycle
            self.relay_ready = True
            if self.outage is not None:
                gap = now - self.outage.since_s
                self.recoveries_s.append(gap)
                how = f"re-created {self.outage.replaced}x" if self.outage.replaced else "restarted by Ray"
                await self.events(
                    "CoordinatorRecovered",
                    f"coordinator ({how}, epoch {beat.epoch}) published cycle {last.cycle} {gap:.1f} s after it "
                    f"was lost ({self.outage.error})",
                    False,
                )
                self.outage = None
            await self._shards(last.cycle, last.missing_shards)
        if self.relay_ready and (beat.summaries or now - self.relayed_s >= self.options.interval_s):
            await self._relay()
            self.relayed_s = now

    async def _shards(self, cycle: int, missing: tuple[int, ...]) -> None:
        """Events with hysteresis: late for LATE_AFTER_CYCLES cycles in a row to be said, so that a shard that
        misses one deadline now and then (a loaded node) does not make an Event pair each time."""
        self.late = {s: self.late.get(s, 0) + 1 for s in missing}
        late = sorted(s for s, n in self.late.items() if n >= LATE_AFTER_CYCLES)
        if late and not self.late_said:
            self.late_said = True
            await self.events(
                "ShardsLate",
                f"shard(s) {late} missed the proposal deadline {LATE_AFTER_CYCLES} cycles in a row (to cycle "
                f"{cycle}): their model groups hold their last decisions",
                True,
            )
        elif not missing and self.late_said:
            self.late_said = False
            await self.events("ShardsBack", f"every shard answered cycle {cycle}", False)
        for s, cycles in self.late.items():
            if cycles >= SHARD_CHECK_AFTER_CYCLES and cycles % SHARD_CHECK_AFTER_CYCLES == 0:
                await self._check_shard(s)

    async def _check_shard(self, shard: int) -> None:
        """A shard late for several cycles: slow (leave it) or dead for good (make it again)."""
        assert self.rt is not None
        try:
            await asyncio.wait_for(_awaitable(self.rt.shards[shard].info.remote()), self.call_timeout_s)
        except ActorDiedError as exc:
            log.warning("shard %d is dead for good (%s): re-creating it", shard, _short(exc))
            with contextlib.suppress(Exception):
                self.rt = await asyncio.to_thread(replace_shard, self.rt, shard)
        except (RayError, TimeoutError):
            pass  # restarting or busy: Ray brings it back

    async def _relay(self) -> None:
        """Serve the coordinator's latest gauge families on the driver's metrics port (kept on failure)."""
        assert self.rt is not None
        try:
            families: list[Any] = await asyncio.wait_for(
                _awaitable(self.rt.coordinator.families.remote()), self.call_timeout_s
            )
            self.gauges.relay.update(families)
        except (RayError, TimeoutError) as exc:  # the last families stay until it answers
            log.warning("could not fetch the coordinator's gauges: %s", _short(exc))


async def _awaitable(ref: Any) -> Any:
    return await ref
