"""Ray Serve 2.60's default autoscaling policy, one deployment per variant. Pure, no I/O.

ongoing = running + queued per replica, averaged over the 30 s look-back; every tick (1 s here, 0.1 s in
Ray - the counters are scaled): desired = total_ongoing / target_ongoing_requests, smoothed by factor 1.0
(`ceil(current + factor * (desired - current))`), clipped to [min, max]; applied only after
`upscale_delay_s` of consecutive "up" decisions or `downscale_delay_s` of consecutive "down" ones; a
neutral or opposite decision resets the counter. `max_ongoing_requests` is enforced by the router: a replica
holds at most that many requests, the rest wait at the handle (the simulator's gateway queue, flushed every tick)
and count as ongoing for the autoscaler. `ray-serve-default` is Serve's core default (target 2, max ongoing 5);
`ray-serve-llm-default` is `ray.serve.llm`'s (target and max ongoing 1e9: it never scales up); `ray-serve-sample`
the KubeRay LLM sample (target 64, max ongoing 128).
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
        max_ongoing_requests: int | None = 5,
    ) -> None:
        self.name = name
        self.max_ongoing_per_replica = (
            max_ongoing_requests if max_ongoing_requests and max_ongoing_requests < 10**8 else None
        )
        self.targets = dict(targets)
        self.upscale_delay_s = upscale_delay_s
        self.downscale_delay_s = downscale_delay_s
        self.factor = factor
        self._counter: dict[str, int] = {}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        out: dict[str, int] = {}
        queued = {m.name: m.gateway_queue for m in obs.models}
        per_model: dict[str, int] = {}
        for view in obs.variants:
            per_model[view.model] = per_model.get(view.model, 0) + 1
        for view in obs.variants:
            target = self.targets.get(view.name, 2.0)
            current = view.current
            ongoing = [p.ongoing_avg_30s for p in view.pods if p.ready and p.ongoing_avg_30s is not None]
            if not ongoing or current == 0:
                continue
            held = queued.get(view.model, 0) / per_model[view.model]  # requests queued at the handles
            raw = (sum(ongoing) + held) / target
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
