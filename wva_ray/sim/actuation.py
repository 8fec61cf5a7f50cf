"""How a controller's decision reaches the Deployments in the simulator: `direct`, `hpa` or `keda`. Pure, no I/O.

- `direct`: the controller patches the scale subresource when it decides (WVA_ACTUATION=direct).
- `hpa`: the controller publishes `wva_desired_replicas`; Prometheus scrapes it every `scrape_s` (the HPA sees the
  value of the last scrape); an HPA per variant syncs every 15 s on that External metric with AverageValue 1
  (tolerance 0.1, minReplicas >= 1) and the behaviour given (the chart's by default: no stabilisation window,
  10 pods per 15 s each way).
- `keda`: the same gauge through a ScaledObject: KEDA's HPA syncs every 15 s on the Prometheus query, with the
  ScaledObject's HPA behaviour; `minReplicaCount` may be 0 (activation at a value > 0).

Baselines that are their own autoscaler (HPA on KV, KEDA on queue, Ray Serve) return replicas directly and run
with `direct`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from wva_ray.sim.observe import VariantView
from wva_ray.sim.policies.base import HpaBehavior, HpaStabilizer

ActuationMode = Literal["direct", "hpa", "keda"]
HPA_SYNC_S = 15.0

# The wva-ray chart's hpa.behavior (helm/wva-ray/values.yaml): pass decisions through.
CHART_PASS_THROUGH = HpaBehavior(
    up_stabilization_s=0.0,
    down_stabilization_s=0.0,
    up_percent=0.0,
    up_pods=10,
    up_period_s=15.0,
    down_percent=0.0,
    down_pods=10,
    down_period_s=15.0,
)


class Actuator(Protocol):
    mode: str
    interval_s: float

    def publish(self, now_s: float, desired: Mapping[str, int]) -> None:
        """The controller's decision at `now_s` (status / gauge written)."""
        ...

    def apply(self, now_s: float, views: tuple[VariantView, ...]) -> dict[str, int]:
        """Replicas to set now, per variant (omitted: unchanged)."""
        ...


class Direct:
    mode = "direct"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._pending: dict[str, int] = {}

    def publish(self, now_s: float, desired: Mapping[str, int]) -> None:
        self._pending.update(desired)

    def apply(self, now_s: float, views: tuple[VariantView, ...]) -> dict[str, int]:
        out, self._pending = self._pending, {}
        return out


@dataclass(frozen=True)
class ScalerSettings:
    behavior: HpaBehavior = CHART_PASS_THROUGH
    min_replicas: int = 1  # HPA minReplicas / KEDA minReplicaCount
    tolerance: float = 0.1


class GaugeScaler:
    """An HPA (or KEDA's HPA) per variant following the scraped `wva_desired_replicas` gauge."""

    interval_s = HPA_SYNC_S

    def __init__(self, mode: Literal["hpa", "keda"], scrape_s: float, settings: ScalerSettings | None = None) -> None:
        self.mode: str = mode
        self.scrape_s = scrape_s
        self.settings = settings or ScalerSettings()
        self._published: list[tuple[float, dict[str, int]]] = []
        self._gauge: dict[str, int] = {}
        self._stab: dict[str, HpaStabilizer] = {}

    def publish(self, now_s: float, desired: Mapping[str, int]) -> None:
        self._published.append((now_s, dict(desired)))

    def _scraped(self, now_s: float) -> dict[str, int]:
        last_scrape = math.floor(now_s / self.scrape_s + 1e-9) * self.scrape_s
        while self._published and self._published[0][0] <= last_scrape:
            self._gauge.update(self._published.pop(0)[1])
        return self._gauge

    def apply(self, now_s: float, views: tuple[VariantView, ...]) -> dict[str, int]:
        gauge = self._scraped(now_s)
        s = self.settings
        out: dict[str, int] = {}
        for view in views:
            value = gauge.get(view.name)
            if value is None:
                continue
            current = view.current
            if current == 0:
                rec = value if value > 0 else 0  # KEDA activation / HPA from zero is not possible (min >= 1)
            elif abs(value / current - 1.0) <= s.tolerance:
                rec = current
            else:
                rec = value
            floor = max(s.min_replicas, view.min_replicas)
            rec = max(floor, min(view.max_replicas, rec))
            stab = self._stab.setdefault(view.name, HpaStabilizer(s.behavior))
            out[view.name] = stab.apply(now_s, current, rec)
        return out


def make_actuator(
    mode: ActuationMode, policy_interval_s: float, scrape_s: float, settings: ScalerSettings | None = None
) -> Actuator:
    if mode == "direct":
        return Direct(policy_interval_s)
    if mode in ("hpa", "keda"):
        return GaugeScaler(mode, scrape_s, settings)
    raise ValueError(f"unknown actuation mode {mode!r}; known: direct, hpa, keda")
