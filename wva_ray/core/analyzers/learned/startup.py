"""The start-up delay of one variant (pod creation -> Ready), learned from observed pods. Pure, no I/O.

Each pod is counted once: the state keeps the latest Ready time already counted (a watermark), and a pod whose
Ready time is not after it is skipped. Estimate: a normal with a conjugate prior on the mean (`prior_weight`
pseudo-pods at `prior_s`) and an exponentially weighted spread; the planning value is the upper quantile
`mean + z * sd` (a replica asked for now is counted on only after most pods would have started).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_STARTUP_S = 300.0  # conservative: the published range of the profile table is 90-420 s
DEFAULT_SD_S = 120.0
MAX_STARTUP_S = 3600.0
MIN_DELAY_S = 1.0  # a pod Ready at its creation (a pre-existing fleet, a clock artefact) says nothing


@dataclass(frozen=True, slots=True)
class StartupState:
    mean_s: float = DEFAULT_STARTUP_S
    var_s2: float = DEFAULT_SD_S * DEFAULT_SD_S
    weight: float = 1.0  # pseudo-count behind mean_s (the prior counts as `weight` pods)
    samples: int = 0
    last_ready_s: float | None = None
    source: str = "default"

    def planning_s(self, z: float = 1.0) -> float:
        return min(MAX_STARTUP_S, self.mean_s + z * math.sqrt(max(self.var_s2, 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "meanS": self.mean_s,
            "varS2": self.var_s2,
            "weight": self.weight,
            "samples": self.samples,
            "lastReadyS": self.last_ready_s,
            "source": self.source,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> StartupState:
        try:
            last = data.get("lastReadyS")
            out = StartupState(
                float(data["meanS"]),
                float(data["varS2"]),
                float(data.get("weight", 1.0)),
                int(data.get("samples", 0)),
                None if last is None else float(last),
                str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"start-up state: missing or invalid key ({err})") from err
        if not (math.isfinite(out.mean_s) and out.mean_s >= 0 and math.isfinite(out.var_s2) and out.var_s2 >= 0):
            raise ValueError(f"start-up state: meanS/varS2 must be finite and >= 0, got {dict(data)!r}")
        return out


def prior(startup_s: float | None, source: str) -> StartupState:
    """A prior at a configured start-up delay (+-25 %), else the conservative default."""
    if startup_s is None or not math.isfinite(startup_s) or startup_s <= 0:
        return StartupState()
    sd = 0.25 * startup_s
    return StartupState(mean_s=startup_s, var_s2=sd * sd, source=source)


def observe(state: StartupState, pods: Iterable[tuple[float, float]], memory: float = 10.0) -> tuple[StartupState, int]:
    """Fold in (created_s, ready_s) pairs of pods not counted yet; returns the state and how many were new."""
    fresh = sorted(
        (r, r - c)
        for c, r in pods
        if math.isfinite(c)
        and math.isfinite(r)
        and r - c >= MIN_DELAY_S
        and (state.last_ready_s is None or r > state.last_ready_s)
    )
    s = state
    for ready_s, delay in fresh:
        delay = min(delay, MAX_STARTUP_S)
        w = min(s.weight, memory)  # bounded memory: drift (a new image, a slower registry) is followed
        mean = (w * s.mean_s + delay) / (w + 1.0)
        var = (w * s.var_s2 + (delay - s.mean_s) * (delay - mean)) / (w + 1.0)
        s = StartupState(mean, max(var, 1.0), w + 1.0, s.samples + 1, ready_s, "observed")
    return s, len(fresh)
