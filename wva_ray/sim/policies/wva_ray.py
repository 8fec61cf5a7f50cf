"""wva-ray itself in the simulator: the production decision path on what the controller would read.

Every tick the simulator renders the `wva-ray plan` input as the controller's readers would build it
(`Observation.snapshot`, wva_ray.sim.render); this policy adds only what the controller itself owns - the
ConfigMaps it was installed with (`config`: saturation, service classes, optional profiles), the VA status it
wrote (previous desired count and `sinceTime`) and the plan's carried state - and runs the runtime's sharded
cycle on it, the core functions wva_ray.runtime.cycle calls: `core.sharding.split` into `shards` parts,
`core.propose` per shard (analyzers and enforcer), `core.sharding.finalize_shards` (merge, global allocator).
On any snapshot that equals `wva_ray.core.decide` (tests/core/test_sharding_property.py; the simulator's own
check is tests/sim/test_sim_sharding.py). It reads nothing else from the observation: no serving profile,
start-up delay or future reaches it. Its output goes to the configured actuation (wva_ray.sim.actuation).
Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import propose
from wva_ray.core.sharding import ShardResult, finalize_shards, split
from wva_ray.sim.observe import Observation
from wva_ray.sim.render import iso


class WvaRay:
    reads_snapshot = True

    def __init__(
        self,
        name: str = "wva-ray",
        analyzer: str = "",
        interval_s: float = 30.0,
        extra: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        shards: int = 1,
    ) -> None:
        """`analyzer` and `extra` form the saturation ConfigMap's `default` entry; `config` adds other snapshot
        config keys (e.g. `serviceClasses`) exactly as the ConfigMaps would carry them; `shards` is the runtime's
        shard count."""
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.name = name
        self.shards = shards
        self.analyzer = analyzer
        self.interval_s = interval_s
        self.extra = dict(extra or {})
        self.config = dict(config or {})
        self._desired: dict[str, tuple[int, str, str]] = {}  # VA key -> (replicas, accelerator, sinceTime)
        self._state: dict[str, Any] = {}
        self.last_plan_reasons: dict[str, str] = {}

    def _with_controller_state(self, data: Mapping[str, Any]) -> dict[str, Any]:
        doc = dict(data)
        vas = []
        for va in doc.get("variantAutoscalings", []):
            key = f"{va['metadata']['namespace']}/{va['metadata']['name']}"
            if key in self._desired:
                replicas, acc, since = self._desired[key]
                alloc = {"numReplicas": replicas, "accelerator": acc, "sinceTime": since}
                va = {**va, "status": {"desiredOptimizedAlloc": alloc}}
            vas.append(va)
        doc["variantAutoscalings"] = vas
        saturation: dict[str, Any] = {"default": {"analyzerName": self.analyzer, **self.extra}}
        doc["config"] = {"saturation": saturation, **self.config}
        if self._state:
            doc["state"] = self._state
        return doc

    def carried_state(self) -> dict[str, Any]:
        """The plan state carried to the next call (what the runtime persists), for inspection."""
        return dict(self._state)

    def snapshot(self, obs: Observation) -> Snapshot:
        if obs.snapshot is None:
            raise ValueError("wva-ray policies need Observation.snapshot (set reads_snapshot = True)")
        return Snapshot.model_validate(self._with_controller_state(obs.snapshot))

    def plan(self, snap: Snapshot) -> Plan:
        """One cycle of the runtime's sharded path: split, propose per shard (a shard with no group answers
        nothing, as a shard actor does), merge and finalize; no shard is missing."""
        now = snap.now
        results = [
            ShardResult(part.groups, propose(part.snapshot, now) if part.groups else None, part.snapshot.metrics_error)
            for part in split(snap, self.shards).values()
        ]
        return finalize_shards(snap, results, [], now)

    def decide(self, obs: Observation) -> Mapping[str, int]:
        snap = self.snapshot(obs)
        plan = self.plan(snap)
        self._state = plan.state.model_dump(mode="json", by_alias=True)
        out: dict[str, int] = {}
        now = iso(snap.now)
        for d in plan.decisions:
            if d.held and d.desired_replicas == d.current_replicas:
                continue
            key = f"{d.namespace}/{d.name}"
            prev = self._desired.get(key)
            since = prev[2] if prev is not None and prev[0] == d.desired_replicas else now
            self._desired[key] = (d.desired_replicas, d.accelerator or "", since)
            self.last_plan_reasons[d.name] = d.reason
            out[d.name] = d.desired_replicas
        return out
