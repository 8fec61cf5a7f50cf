"""Upstream llm-d WVA as deployed: saturation analyzer V1 every 60 s, actuated through an HPA with the
chart's behaviour (240 s stabilization both ways, 10 pods / 150 s), AverageValue 1 on
`wva_desired_replicas`. Written here from the published algorithm (wva-behaviour.md 3.2, without our
fixes: no transition-lock timeout, terminating pods counted). Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wva_ray.sim.observe import Observation, VariantView
from wva_ray.sim.policies.base import WVA_CHART_BEHAVIOR, HpaStabilizer


@dataclass(frozen=True)
class V1Settings:
    kv_threshold: float = 0.80
    queue_threshold: float = 5.0
    kv_spare_trigger: float = 0.10
    queue_spare_trigger: float = 3.0


def v1_signals(pods: list[tuple[float, float]], s: V1Settings) -> tuple[bool, bool]:
    """(scale_up, scale_down_safe) from per-pod (kv, queue) peaks over one minute."""
    free = [(kv, q) for kv, q in pods if kv < s.kv_threshold and q < s.queue_threshold]
    n = len(free)
    avg_kv = sum(s.kv_threshold - kv for kv, _ in free) / n if n else 0.0
    avg_q = sum(s.queue_threshold - q for _, q in free) / n if n else 0.0
    up = avg_kv < s.kv_spare_trigger or avg_q < s.queue_spare_trigger
    down = (
        n >= 2
        and s.kv_threshold - (s.kv_threshold - avg_kv) * n / (n - 1) >= s.kv_spare_trigger
        and s.queue_threshold - (s.queue_threshold - avg_q) * n / (n - 1) >= s.queue_spare_trigger
    )
    return up, down


class WvaUpstream:
    interval_s = 15.0  # the HPA's sync period; the WVA loop runs every `loop_s`

    def __init__(self, name: str = "wva-upstream", loop_s: float = 60.0, settings: V1Settings | None = None) -> None:
        self.name = name
        self.loop_s = loop_s
        self.settings = settings or V1Settings()
        self._published: dict[str, int] = {}
        self._last_loop = -1e18
        self._stab: dict[str, HpaStabilizer] = {}

    def _analyze(self, obs: Observation) -> None:
        by_model: dict[str, list[VariantView]] = {}
        for view in obs.variants:
            by_model.setdefault(view.model, []).append(view)
        for views in by_model.values():
            with_metrics = {v.name: [p for p in v.pods if p.kv_max_1m is not None] for v in views}
            transition = False
            for v in views:
                count = len(with_metrics[v.name])
                if count == 0:
                    continue
                prev = self._published.get(v.name, 0)
                if (prev != 0 and prev != v.current) or count != v.current:
                    transition = True
            if transition:
                for v in views:
                    prev = self._published.get(v.name, 0)
                    self._published[v.name] = prev if prev not in (0, v.current) else v.current
                continue
            signals = [(p.kv_max_1m or 0.0, p.queue_max_1m or 0.0) for v in views for p in with_metrics[v.name]]
            up, down = v1_signals(signals, self.settings)
            target = {v.name: len(with_metrics[v.name]) for v in views}
            if up:
                cands = [v for v in views if v.pending == 0 and with_metrics[v.name]]
                if cands:
                    pick = min(cands, key=lambda v: (v.cost_per_replica, v.name))
                    target[pick.name] += 1
            elif down:
                cands = [v for v in views if target[v.name] > 1]
                if cands:
                    pick = max(cands, key=lambda v: (v.cost_per_replica, v.name))
                    target[pick.name] -= 1
            for v in views:
                if with_metrics[v.name]:
                    self._published[v.name] = target[v.name]

    def decide(self, obs: Observation) -> Mapping[str, int]:
        if obs.now_s - self._last_loop >= self.loop_s - 1e-9:
            self._last_loop = obs.now_s
            self._analyze(obs)
        out: dict[str, int] = {}
        for view in obs.variants:
            gauge = self._published.get(view.name)
            if gauge is None:
                continue
            # External metric, AverageValue 1: desired = gauge unless gauge / current is within tolerance.
            rec = gauge
            if view.current and abs(gauge / view.current - 1.0) <= 0.1:
                rec = view.current
            rec = max(view.min_replicas, min(view.max_replicas, rec))
            stab = self._stab.setdefault(view.name, HpaStabilizer(WVA_CHART_BEHAVIOR))
            out[view.name] = stab.apply(obs.now_s, view.current, rec)
        return out
