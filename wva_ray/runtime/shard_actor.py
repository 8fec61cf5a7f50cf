"""Shard Ray actors: each owns the model groups rendezvous hashing gives it. Does I/O (Ray calls and the
metrics source its wiring builds).

A shard starts its own loop on construction, so it survives restarts (max_restarts=-1) without anyone calling
it: it long-polls the coordinator for its work, collects its groups' metrics in batched queries, runs the
analyzers (`core.propose`) and submits the proposal. While the coordinator is restarting, calls fail and the
shard retries with backoff (0.1 s doubling to 4 s). A shard also remembers its models' decision state (the V2
capacity history), so a restarted coordinator, which starts without it, gets it back with the next proposals.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import ray

from wva_ray.api.snapshot import DecisionState
from wva_ray.core.reminder import Reminder
from wva_ray.runtime.actor_logging import configure_actor_logging
from wva_ray.runtime.coordinator_actor import COORDINATOR_NAME, NAMESPACE
from wva_ray.runtime.cycle import carry_state
from wva_ray.runtime.loop import Backoff
from wva_ray.runtime.shard_codec import CacheMiss, ProposalEncoder, ShardVaCache
from wva_ray.runtime.shard_cycle import run_shard_step
from wva_ray.runtime.wiring import Wiring

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 10.0


def shard_name(shard: int) -> str:
    return f"wva-shard-{shard}"


@ray.remote(num_cpus=0, max_restarts=-1)
class ShardActor:
    def __init__(
        self, shard: int, wiring: Wiring, coordinator: str = COORDINATOR_NAME, log_level: str | None = None
    ) -> None:
        configure_actor_logging(log_level, shard_name(shard))
        self.shard = shard
        self.source = wiring.metrics_source()
        self.coordinator_name = coordinator
        self.cycles = 0
        self.last: tuple[str, int] = ("", 0)
        self.errors = 0
        self.groups: tuple[str, ...] = ()  # `namespace/modelID` of the groups of the last work (for `info`)
        self.cache = ShardVaCache()
        self.encoder = ProposalEncoder()  # what the coordinator holds of our drafts (proposals travel as deltas)
        self.said = Reminder()  # its metrics source's failures: logged on change and every 5 min, not per step
        self.state = DecisionState()  # this shard's models' decision state, kept across coordinator restarts
        self._stop = asyncio.Event()
        self._task = asyncio.get_event_loop().create_task(self._loop())
        log.info("started: shard %d, polling %s", shard, coordinator)

    async def _loop(self) -> None:
        backoff = Backoff()
        failures = 0
        coordinator: Any = None
        while not self._stop.is_set():
            try:
                if coordinator is None:
                    coordinator = ray.get_actor(self.coordinator_name, namespace=NAMESPACE)
                epoch, cycle = self.last
                wire = await coordinator.next_work.remote(
                    self.shard, epoch, cycle, POLL_TIMEOUT_S, self.cache.incarnation
                )
                if wire is None:
                    continue
                try:
                    work = self.cache.decode(wire)
                except CacheMiss as exc:
                    log.warning("shard=%d resynchronising its VA cache: %s", self.shard, exc)
                    self.cache.reset()
                    continue
                self.groups = tuple(f"{g.namespace}/{g.model_id}" for g in work.groups)
                work = carry_state(work, self.state)
                proposal = await run_shard_step(work, self.source, work.snapshot.now, self.said)
                if proposal.proposals is not None:
                    self.state = proposal.proposals.state
                wire_out = self.encoder.encode(proposal)
                try:
                    answer = await coordinator.submit.remote(wire_out)
                except Exception:
                    self.encoder.reset()  # unknown whether it was applied: the next proposal is a full one
                    raise
                self.encoder.settled(answer)
                self.last = (work.epoch, work.cycle)
                self.cycles += 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive a coordinator restart or any single failure
                failures += 1
                self.errors += 1
                log.warning("shard=%d poll failed (attempt %d): %s", self.shard, failures, exc)
                if failures > 3:
                    coordinator = None  # look the coordinator up again
                await asyncio.sleep(backoff.delay_s(failures))

    async def info(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "pid": os.getpid(),
            "cycles": self.cycles,
            "last_cycle": self.last[1],
            "errors": self.errors,
            "node_id": ray.get_runtime_context().get_node_id(),
            "groups": list(self.groups),
        }

    async def stop(self) -> None:
        self._stop.set()
        self._task.cancel()
