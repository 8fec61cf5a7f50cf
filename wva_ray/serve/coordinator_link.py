"""Mode `coordinator`: the lookup of "the coordinator's latest decision for deployment X", and the pure rule that
follows it. `fetch_coordinator_target` does I/O (a Ray actor call) and runs only on a `Poller` thread;
`follow_coordinator` is pure.

Contract the coordinator must provide (the runtime's `wva_ray/runtime/coordinator_actor.py`):

- a named Ray actor, name `CoordinatorSettings.actor_name` (default `"wva-coordinator"`) in Ray namespace
  `CoordinatorSettings.namespace` (default `"wva"`);
- a method `get_target(app_name: str, deployment_name: str)` returning either `None` (no decision for that
  deployment: the policy holds) or a plain dict
  `{"desired_replicas": int >= 0, "decided_at_s": float}` where `decided_at_s` is the Unix time of the cycle that
  produced or re-confirmed the decision (re-confirmed every cycle while it stands);
- it must answer quickly (the call has a `timeout_s` deadline, default 2 s) and must never raise for an unknown
  deployment (return `None`).

Only plain values cross the actor boundary, so neither side imports the other (runtime and serve are sibling
layers). The policy holds Serve's current target when the actor is unreachable, answers `None`, answers something
malformed, or its decision is older than `max_decision_age_s`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wva_ray.serve.background import Fetched
from wva_ray.serve.settings import CoordinatorSettings
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView, Reason, StepDecision

GET_TARGET_METHOD = "get_target"


@dataclass(frozen=True, slots=True)
class CoordinatorTarget:
    """The coordinator's decision for one deployment."""

    desired_replicas: int
    decided_at_s: float


def parse_target(raw: Any) -> CoordinatorTarget | None:
    """Validate a `get_target` answer. None stays None; anything malformed raises ValueError naming the field."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"get_target: expected a dict or None, got {type(raw).__name__} {raw!r}")
    desired = raw.get("desired_replicas")
    if isinstance(desired, bool) or not isinstance(desired, int) or desired < 0:
        raise ValueError(f"get_target.desired_replicas: expected an int >= 0, got {desired!r}")
    decided = raw.get("decided_at_s")
    if isinstance(decided, bool) or not isinstance(decided, int | float) or not math.isfinite(decided):
        raise ValueError(f"get_target.decided_at_s: expected Unix seconds, got {decided!r}")
    return CoordinatorTarget(desired, float(decided))


def fetch_coordinator_target(settings: CoordinatorSettings, app_name: str, deployment: str) -> CoordinatorTarget | None:
    """Ask the named coordinator actor for this deployment's decision (blocking; Poller thread only)."""
    import ray

    if not ray.is_initialized():  # never start a Ray cluster as a side effect (the controller is always connected)
        raise RuntimeError("Ray is not initialized in this process: cannot reach the coordinator")
    actor = ray.get_actor(settings.actor_name, namespace=settings.namespace)
    raw = ray.get(getattr(actor, GET_TARGET_METHOD).remote(app_name, deployment), timeout=settings.timeout_s)
    return parse_target(raw)


def fetch_staleness_limit_s(settings: CoordinatorSettings) -> float:
    """How old the last successful fetch may be before it no longer counts (three missed polls plus a timeout)."""
    return 3 * settings.poll_interval_s + settings.timeout_s


def follow_coordinator(
    view: DeploymentView,
    fetched: Fetched[CoordinatorTarget | None] | None,
    settings: CoordinatorSettings,
) -> StepDecision:
    """Serve's target follows the coordinator's decision; any missing or stale answer holds the target."""
    target = fetched.value if fetched is not None else None
    fresh = fetched is not None and view.now_s - fetched.at_s <= fetch_staleness_limit_s(settings)
    too_old = (
        target is not None
        and settings.max_decision_age_s is not None
        and view.now_s - target.decided_at_s > settings.max_decision_age_s
    )
    if target is None or not fresh or too_old:
        desired, reason = view.target, Reason.COORDINATOR_MISSING
    else:
        desired, reason = view.clamp(target.desired_replicas), Reason.COORDINATOR
    return StepDecision(desired, reason, DeploymentPolicyState(None, desired, reason.value))
