"""Switches for how faithful the simulated cluster is, beyond the replica model's defaults. Pure values.

Every switch defaults to the behaviour the benchmark has always had (so old results stay reproducible):
- `routing`: `least-loaded` (instantaneous min running + waiting, the EPP's ideal), `round-robin` (a plain
  Kubernetes Service), or `stale-least-loaded` (least-loaded on a load view refreshed every
  `routing_refresh_s`, as an EPP reading scraped metrics);
- `scheduling_delay_s`: a new pod is Pending (billed, scheduling, image pull) this long before its start-up begins;
- `startup_spread`: each pod's start-up delay is drawn uniformly from [1 - spread, 1 + spread] x the variant's;
- replica-level switches (preemption, prefix caching, prefill cost growing with length, chunked prefill slowing
  decode) live in `wva_ray.sim.model.replica.ReplicaOptions` and are passed through `replica`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wva_ray.sim.model.replica import ReplicaOptions

Routing = Literal["least-loaded", "round-robin", "stale-least-loaded"]


@dataclass(frozen=True)
class Fidelity:
    routing: Routing = "least-loaded"
    routing_refresh_s: float = 1.0
    scheduling_delay_s: float = 0.0
    startup_spread: float = 0.0
    replica: ReplicaOptions = field(default_factory=ReplicaOptions)

    def __post_init__(self) -> None:
        if not 0.0 <= self.startup_spread < 1.0:
            raise ValueError(f"fidelity.startup_spread must be in [0, 1), got {self.startup_spread}")
        if self.scheduling_delay_s < 0:
            raise ValueError(f"fidelity.scheduling_delay_s must be >= 0, got {self.scheduling_delay_s}")
        if self.routing_refresh_s <= 0:
            raise ValueError(f"fidelity.routing_refresh_s must be > 0, got {self.routing_refresh_s}")
