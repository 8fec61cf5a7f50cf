"""Typed per-deployment policy state and decision values for the Serve policies. No I/O.

Serve keeps a policy's state as a plain dict per deployment (`AutoscalingContext.policy_state`) and hands it back
on the next tick. We never mutate or share that dict: each tick reads it into a frozen `DeploymentPolicyState`
and returns a brand-new dict built from the new state. Keys are prefixed `wva_` so they never collide with
Serve's own delay bookkeeping, which Serve merges into the same dict. Reasons come from the one vocabulary,
`wva_ray.api.reasons.Reason` (re-exported here for the policies).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wva_ray.api.reasons import Reason

_TRANSITION_KEY = "wva_transition_started_s"
_DESIRED_KEY = "wva_last_desired"
_REASON_KEY = "wva_last_reason"

__all__ = ["DeploymentPolicyState", "DeploymentView", "Reason", "StepDecision"]


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """What a policy sees of one deployment on one tick, read from its `AutoscalingContext`.

    `now_s` is the context's `current_time` (Unix seconds): every delay is measured against it, never in ticks.
    """

    now_s: float
    current: int
    target: int
    min_replicas: int
    max_replicas: int

    def clamp(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True, slots=True)
class DeploymentPolicyState:
    """State carried between ticks for one deployment.

    `transition_started_s`: when Serve's target was first seen differing from the running count (None when equal);
    the transition lock expires `transition_timeout_s` after it.
    """

    transition_started_s: float | None = None
    last_desired: int | None = None
    last_reason: str = ""

    @classmethod
    def from_policy_state(cls, raw: Mapping[str, Any] | None) -> DeploymentPolicyState:
        """Read our keys from Serve's dict; anything missing or malformed starts fresh (never raises)."""
        if not raw:
            return cls()
        started = raw.get(_TRANSITION_KEY)
        desired = raw.get(_DESIRED_KEY)
        reason = raw.get(_REASON_KEY)
        return cls(
            transition_started_s=float(started)
            if isinstance(started, int | float) and math.isfinite(started)
            else None,
            last_desired=desired if isinstance(desired, int) else None,
            last_reason=reason if isinstance(reason, str) else "",
        )

    def to_policy_state(self) -> dict[str, Any]:
        """A new dict for Serve to store; never the dict we were given."""
        return {
            _TRANSITION_KEY: self.transition_started_s,
            _DESIRED_KEY: self.last_desired,
            _REASON_KEY: self.last_reason,
        }


@dataclass(frozen=True, slots=True)
class StepDecision:
    """One deployment's answer for one tick: the replica count for Serve, why, and the state to keep."""

    desired: int
    reason: Reason
    state: DeploymentPolicyState
