"""Ray Serve 2.60's default autoscaling policy, one deployment per variant. Pure, no I/O.

ongoing = running + queued per replica, averaged over the 30 s look-back; every tick (1 s here, 0.1 s in
Ray - the counters are scaled): desired = total_ongoing / target_ongoing_requests, smoothed by factor 1.0
(`ceil(current + factor * (desired - current))`), clipped to [min, max]; applied only after
`upscale_delay_s` of consecutive "up" decisions or `downscale_delay_s` of consecutive "down" ones; a
neutral or opposite decision resets the counter. `ray-serve-default` uses target 2 (the literal
default), `ray-serve-tuned` 0.7 x the batch at SLO capacity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from wva_ray.sim.observe import Observation


class RayServe:
    interval_s = 1.0

    def __init__(
        self,
        targets: Mapping[str, float],
        name: str = "ray-serve-default",
        upscale_delay_s: float = 30.0,
        downscale_delay_s: float = 600.0,
        factor: float = 1.0,
    ) -> None:
        self.name = name
        self.targets = dict(targets)
        self.upscale_delay_s = upscale_delay_s
        self.downscale_delay_s = downscale_delay_s
        self.factor = factor
        self._counter: dict[str, int] = {}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for view in obs.variants:
            target = self.targets.get(view.name, 2.0)
            current = view.current
            ongoing = [p.ongoing_avg_30s for p in view.pods if p.ready and p.ongoing_avg_30s is not None]
            if not ongoing or current == 0:
                continue
            raw = sum(ongoing) / target
            desired = math.ceil(current + self.factor * (raw - current))
            if raw < current and desired == current and self.factor < 1.0:
                desired -= 1  # Ray forces progress when a small factor would stall the shrink
            desired = max(view.min_replicas, min(view.max_replicas, desired))
            count = self._counter.get(view.name, 0)
            if desired > current:
                count = max(count, 0) + 1
                if count * self.interval_s >= self.upscale_delay_s:
                    out[view.name] = desired
                    count = 0
            elif desired < current:
                count = min(count, 0) - 1
                if -count * self.interval_s >= self.downscale_delay_s:
                    out[view.name] = desired
                    count = 0
            else:
                count = 0
            self._counter[view.name] = count
        return out
