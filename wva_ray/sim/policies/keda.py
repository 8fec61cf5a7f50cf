"""KEDA prometheus scaler on queue + running requests, 1 <-> N through the HPA it creates. Pure, no I/O.

Query `sum(vllm:num_requests_waiting) + sum(vllm:num_requests_running)` per variant, metricType
AverageValue with `threshold` per replica (0.8 x the batch a replica runs at its SLO capacity);
KEDA polls every 30 s, its HPA syncs every 15 s with default behaviour. Scale to zero is not used
(scenarios keep min 1), so the 300 s cooldown never applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from wva_ray.sim.observe import Observation
from wva_ray.sim.policies.base import HpaBehavior, HpaStabilizer


class KedaQueue:
    interval_s = 15.0

    def __init__(self, thresholds: Mapping[str, float], name: str = "keda-queue", polling_s: float = 30.0) -> None:
        self.name = name
        self.thresholds = dict(thresholds)
        self.polling_s = polling_s
        self.behavior = HpaBehavior()
        self._stab: dict[str, HpaStabilizer] = {}
        self._value: dict[str, float] = {}
        self._polled_at = -math.inf

    def decide(self, obs: Observation) -> Mapping[str, int]:
        if obs.now_s - self._polled_at >= self.polling_s - 1e-9:
            self._polled_at = obs.now_s
            for view in obs.variants:
                vals = [(p.waiting_last or 0.0) + (p.running_last or 0.0) for p in view.pods]
                self._value[view.name] = sum(vals)
        out: dict[str, int] = {}
        for view in obs.variants:
            value = self._value.get(view.name)
            threshold = self.thresholds.get(view.name, 5.0)
            if value is None or view.current == 0:
                continue
            ratio = value / (threshold * view.current)
            rec = view.current
            if abs(ratio - 1.0) > self.behavior.tolerance:
                rec = math.ceil(value / threshold)
            rec = max(view.min_replicas, min(view.max_replicas, max(rec, 1)))
            stab = self._stab.setdefault(view.name, HpaStabilizer(self.behavior))
            out[view.name] = stab.apply(obs.now_s, view.current, rec)
        return out
