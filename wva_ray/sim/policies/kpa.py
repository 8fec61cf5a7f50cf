"""An AIBrix-KPA-like autoscaler (Knative's pod autoscaler algorithm), one per variant. Pure, no I/O.

Metric: concurrency per pod (running + waiting, as scraped). Every 2 s: the stable average over `stable_window_s`
(60 s) and the panic average over `panic_window_s` (10 % of it, 6 s); desired = ceil(total / target) from each.
Panic mode starts when the panic desired reaches `panic_threshold` (2.0 = 200 %) x the ready pods and lasts at
least one stable window; in panic the panic desired is used and the fleet never shrinks. Scale-up rate at most
`max_scale_up_rate` (1000) x ready pods, scale-down at most to ready / `max_scale_down_rate` (2). Knative's
default target is 100 concurrent requests per pod (container-concurrency-target-default); AIBrix users set their
own target, which the sweep explores.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from wva_ray.sim.observe import Observation


class Kpa:
    interval_s = 2.0

    def __init__(
        self,
        name: str = "aibrix-kpa",
        target: float = 100.0,
        stable_window_s: float = 60.0,
        panic_window_pct: float = 10.0,
        panic_threshold: float = 2.0,
        max_scale_up_rate: float = 1000.0,
        max_scale_down_rate: float = 2.0,
    ) -> None:
        self.name = name
        self.target = target
        self.stable_s = stable_window_s
        self.panic_s = stable_window_s * panic_window_pct / 100.0
        self.panic_threshold = panic_threshold
        self.up_rate = max_scale_up_rate
        self.down_rate = max_scale_down_rate
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._panic_until: dict[str, float] = {}
        self._panic_max: dict[str, int] = {}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        out: dict[str, int] = {}
        now = obs.now_s
        for view in obs.variants:
            ready = max(view.ready, 1)
            total = sum((p.running_last or 0.0) + (p.waiting_last or 0.0) for p in view.pods if p.ready)
            series = self._samples.setdefault(view.name, deque())
            series.append((now, total))
            while series and series[0][0] <= now - self.stable_s:
                series.popleft()
            stable = sum(v for _, v in series) / len(series)
            recent = [v for t, v in series if t > now - self.panic_s] or [total]
            panic = sum(recent) / len(recent)
            want_stable = math.ceil(stable / self.target)
            want_panic = math.ceil(panic / self.target)
            if want_panic >= self.panic_threshold * ready:
                self._panic_until[view.name] = now + self.stable_s
            in_panic = now < self._panic_until.get(view.name, -math.inf)
            if in_panic:
                want = max(want_panic, self._panic_max.get(view.name, 0), view.current)
                self._panic_max[view.name] = want
            else:
                self._panic_max.pop(view.name, None)
                want = want_stable
            want = min(want, math.ceil(self.up_rate * ready))
            want = max(want, math.floor(ready / self.down_rate))
            out[view.name] = max(view.min_replicas, max(1, min(view.max_replicas, want)))
        return out
