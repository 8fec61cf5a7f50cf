"""A Dynamo-planner-like predictive autoscaler: forecast the request rate, divide by profiled capacity. Pure.

Every `adjustment_interval_s` (Dynamo's SLA planner default: 180 s) the planner reads the request rate the
frontend received over the interval (the gateway's request counter), forecasts the next interval with Holt's
linear trend (level + trend, smoothing 0.5 / 0.3 - an ARIMA(0,2,2)-like predictor; Dynamo also offers constant,
ARIMA and Prophet), and sets replicas = ceil(forecast / capacity per replica), where the capacity per replica is
the pre-deployment profiling result (here: the simulator's single-replica SLO capacity, as a user's profiling run
would measure it). The model's cheapest variant by cost per capacity gets the replicas. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from wva_ray.sim.observe import Observation


class Planner:
    def __init__(
        self,
        capacity_rps: Mapping[str, float],
        name: str = "dynamo-planner",
        adjustment_interval_s: float = 180.0,
        alpha: float = 0.5,
        beta: float = 0.3,
        headroom: float = 1.0,
    ) -> None:
        self.name = name
        self.interval_s = adjustment_interval_s
        self.capacity = dict(capacity_rps)
        self.alpha = alpha
        self.beta = beta
        self.headroom = headroom
        self._last: dict[str, tuple[float, int]] = {}
        self._level: dict[str, float] = {}
        self._trend: dict[str, float] = {}

    def _forecast(self, model: str, rate: float) -> float:
        if model not in self._level:
            self._level[model], self._trend[model] = rate, 0.0
            return rate
        level, trend = self._level[model], self._trend[model]
        new_level = self.alpha * rate + (1 - self.alpha) * (level + trend)
        self._trend[model] = self.beta * (new_level - level) + (1 - self.beta) * trend
        self._level[model] = new_level
        return max(0.0, new_level + self._trend[model])

    def decide(self, obs: Observation) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for m in obs.models:
            prev = self._last.get(m.name)
            self._last[m.name] = (obs.now_s, m.requests_received)
            if prev is None or obs.now_s <= prev[0]:
                continue
            rate = (m.requests_received - prev[1]) / (obs.now_s - prev[0])
            want_rps = self._forecast(m.name, rate) * self.headroom
            views = [v for v in obs.variants if v.model == m.name and self.capacity.get(v.name, 0) > 0]
            if not views:
                continue
            best = min(views, key=lambda v: (v.cost_per_replica / self.capacity[v.name], v.name))
            for v in views:
                n = math.ceil(want_rps / self.capacity[v.name]) if v is best else 0
                out[v.name] = max(v.min_replicas, min(v.max_replicas, max(n, 1 if v is best else 0)))
        return out
