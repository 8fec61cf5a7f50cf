"""Kubernetes HPA on a per-pod vLLM metric, one HPA per variant (no cost awareness). Pure, no I/O.

Every 15 s: usage = mean over ready pods of the metric - `kv_cache_usage_perc` averaged over 30 s (an adapter
rate window), `num_requests_running` / max-num-seqs averaged over 1 m, or the waiting queue's 1-m peak;
ratio = usage / target; no change inside the tolerance; on a scale-up the pods that are not ready
count as 0 % and a decision that falls back inside the tolerance is dropped; then the HPA behaviour
(stabilization windows, rate policies). `hpa-kv` uses the autoscaling/v2 defaults, `hpa-kv-tuned` the
WVA chart's 240 s windows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from wva_ray.sim.observe import Observation, PodView, VariantView
from wva_ray.sim.policies.base import HpaBehavior, HpaStabilizer


def hpa_recommendation(view: VariantView, usages: list[float], target: float, tolerance: float) -> int:
    """`desired = ceil(current * usage / target)` with the HPA's missing-pod rules and tolerance."""
    current = view.current
    if not usages:
        return current
    ratio = sum(usages) / len(usages) / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    if ratio > 1.0:
        counted = len(usages) + view.pending  # not-ready pods count as 0 % on a scale-up
        new_ratio = sum(usages) / counted / target
        if new_ratio <= 1.0 + tolerance:
            return current
        return max(current, math.ceil(new_ratio * counted))
    return min(current, math.ceil(ratio * len(usages)))


def _usage(metric: str, pod: PodView, max_num_seqs: int) -> float | None:
    if metric == "kv":
        return pod.kv_avg_30s
    if metric == "running":  # running / max-num-seqs (a fraction, like the KV ratio)
        return None if pod.running_avg_1m is None else pod.running_avg_1m / max(max_num_seqs, 1)
    if metric == "queue":  # waiting requests per pod (AverageValue)
        return pod.queue_max_1m
    raise ValueError(f"unknown HPA metric {metric!r}; known: kv, running, queue")


class HpaKv:
    """An HPA per variant on a per-pod metric: `kv` (KV usage), `running` (running / max-num-seqs) or `queue`."""

    interval_s = 15.0

    def __init__(
        self,
        name: str = "hpa-kv",
        target: float = 0.7,
        behavior: HpaBehavior | None = None,
        metric: str = "kv",
        max_num_seqs: Mapping[str, int] | None = None,
    ) -> None:
        self.name = name
        self.target = target
        self.behavior = behavior or HpaBehavior()
        self.metric = metric
        self.max_num_seqs = dict(max_num_seqs or {})
        self._stab: dict[str, HpaStabilizer] = {}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for view in obs.variants:
            seqs = self.max_num_seqs.get(view.name, 256)
            usages = [u for p in view.pods if p.ready and (u := _usage(self.metric, p, seqs)) is not None]
            rec = hpa_recommendation(view, usages, self.target, self.behavior.tolerance)
            # an HPA on a per-pod metric cannot scale from zero, and its minReplicas is at least 1
            rec = max(max(view.min_replicas, 1), min(view.max_replicas, rec))
            stab = self._stab.setdefault(view.name, HpaStabilizer(self.behavior))
            out[view.name] = stab.apply(obs.now_s, view.current, rec)
        return out
