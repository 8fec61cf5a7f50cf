"""A wva-ray policy wrapped for tests: keeps every observation, the snapshot it decided on, its decisions and
its reasons (shared by the no-side-channel and sharding tests)."""

from __future__ import annotations

from collections.abc import Mapping

from wva_ray.api.snapshot import Snapshot
from wva_ray.sim.observe import Observation
from wva_ray.sim.policies.wva_ray import WvaRay


class Recorder:
    reads_snapshot = True

    def __init__(self, inner: WvaRay) -> None:
        self.inner = inner
        self.name = inner.name
        self.interval_s = inner.interval_s
        self.seen: list[Observation] = []
        self.snapshots: list[Snapshot] = []
        self.decisions: list[Mapping[str, int]] = []
        self.reasons: list[dict[str, str]] = []

    def decide(self, obs: Observation) -> Mapping[str, int]:
        self.seen.append(obs)
        self.snapshots.append(self.inner.snapshot(obs))
        out = self.inner.decide(obs)
        self.decisions.append(dict(out))
        self.reasons.append(dict(self.inner.last_plan_reasons))
        return out
