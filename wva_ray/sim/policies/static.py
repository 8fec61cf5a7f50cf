"""Static peak provisioning and the oracle's schedule replay. Pure, no I/O.

`Scheduled` returns, at every tick, the replica counts of a precomputed schedule (piecewise constant per
interval of `interval_s`); the static-peak policy is a one-interval schedule; the oracle's MILP solution
is replayed the same way (billed replicas = ready + starting, so starts happen start-up-delay early).
"""

from __future__ import annotations

from collections.abc import Mapping

from wva_ray.sim.observe import Observation


class Scheduled:
    def __init__(self, name: str, schedule: Mapping[str, list[int]], interval_s: float) -> None:
        self.name = name
        self.schedule = {k: list(v) for k, v in schedule.items()}
        self.interval_s = interval_s

    def initial(self) -> dict[str, int]:
        return {k: v[0] for k, v in self.schedule.items() if v}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        idx = int(obs.now_s // self.interval_s + 1e-9)
        out: dict[str, int] = {}
        for name, counts in self.schedule.items():
            if counts:
                out[name] = counts[min(idx, len(counts) - 1)]
        return out
