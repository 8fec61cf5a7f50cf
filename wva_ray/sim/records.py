"""What one simulation run takes (models, variants) and produces (pods billed, scaling actions, per-request
latencies, timelines). Pure values, kept apart from the event loop (wva_ray.sim.simulator) so the bench's metrics
and reports read results without importing the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.traces import FloatArray, Trace


@dataclass(frozen=True)
class SimVariant:
    name: str
    model: str
    profile: Profile
    startup_s: float
    cost_per_replica: float
    min_replicas: int
    max_replicas: int
    initial_replicas: int


@dataclass(frozen=True)
class SimModel:
    name: str
    priority: int
    trace: Trace


@dataclass(frozen=True)
class PodRecord:
    variant: str
    gpus: int
    cost_per_hour: float
    created_s: float
    ready_s: float | None
    stopped_s: float


@dataclass(frozen=True)
class ScaleAction:
    t_s: float
    variant: str
    before: int
    after: int


@dataclass(frozen=True)
class RequestLog:
    """Per request of one model (index = trace order); NaN latencies for requests never completed."""

    arrival_s: FloatArray
    ttft_s: FloatArray
    itl_s: FloatArray
    e2e_s: FloatArray


@dataclass(frozen=True)
class SimResult:
    policy: str
    seed: int
    duration_s: float
    requests: dict[str, RequestLog]
    pods: list[PodRecord]
    actions: list[ScaleAction]
    timeline_s: FloatArray
    ready: dict[str, FloatArray]
    current: dict[str, FloatArray]
    budget_denied: int
    timeouts: int
    wall_s: float
    policy_calls: int
    policy_wall_s: float


def pod_record(
    variant: str, gpus: int, cost: float, created_s: float, ready_s: float, stopped_s: float, end_s: float
) -> PodRecord:
    """A pod's billing record at the end of a run (billing stops at `end_s`; never ready = `ready_s` None)."""
    stop = min(stopped_s, end_s)
    return PodRecord(variant, gpus, cost, created_s, ready_s if ready_s <= stop else None, stop)
