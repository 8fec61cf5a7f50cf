"""`SaturationStatsMixin`: lets a Serve deployment report KV-cache usage and waiting requests to the policy
(mode `replica_stats`) through Serve's `record_autoscaling_stats()`. No I/O.

A deployment class inherits the mixin and implements `saturation_sample()`; for a vLLM-backed deployment that is
the engine's KV-cache usage (0..1) and its number of waiting requests. Deployments without access to engine stats
(or CPU stand-ins) can use `InFlightSaturation`, which derives both from in-flight requests and a fixed number of
concurrent KV slots. Serve disables custom metrics for a replica whose first report is not a dict of numbers, so
the mixin always returns one: a sample that is missing or not finite is left out (the policy then holds; a
missing value is never reported as 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from wva_ray.serve.settings import DEFAULT_KV_STAT, DEFAULT_QUEUE_STAT


@dataclass(frozen=True, slots=True)
class SaturationSample:
    """One replica's saturation right now."""

    kv_ratio: float
    waiting: float


class SaturationStatsMixin:
    """Adds `record_autoscaling_stats()` to a Serve deployment class. Override `saturation_sample()`.

    The stat names must match the policy's `kv_stat` / `queue_stat` kwargs (defaults are the same here and there).
    """

    wva_kv_stat: ClassVar[str] = DEFAULT_KV_STAT
    wva_queue_stat: ClassVar[str] = DEFAULT_QUEUE_STAT

    def saturation_sample(self) -> SaturationSample | None:
        """This replica's KV usage and queue now, or None when unknown. Must be fast (Serve samples it often)."""
        raise NotImplementedError(f"{type(self).__name__} must implement saturation_sample()")

    def record_autoscaling_stats(self) -> dict[str, float]:
        sample = self.saturation_sample()
        if sample is None:
            return {}
        stats: dict[str, float] = {}
        if math.isfinite(sample.kv_ratio):
            stats[self.wva_kv_stat] = min(1.0, max(0.0, float(sample.kv_ratio)))
        if math.isfinite(sample.waiting):
            stats[self.wva_queue_stat] = max(0.0, float(sample.waiting))
        return stats


class InFlightSaturation:
    """KV usage and waiting requests derived from in-flight requests and `kv_slots` concurrent sequences.

    Running sequences are `min(in_flight, kv_slots)`; KV usage is running / kv_slots; the rest wait. Call
    `started()` when a request begins and `finished()` when it ends (a replica's event loop is single-threaded).
    """

    def __init__(self, kv_slots: int) -> None:
        if kv_slots < 1:
            raise ValueError(f"kv_slots must be >= 1, got {kv_slots}")
        self.kv_slots = kv_slots
        self.in_flight = 0

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        if self.in_flight <= 0:
            raise RuntimeError("finished() called with no request in flight")
        self.in_flight -= 1

    def sample(self) -> SaturationSample:
        running = min(self.in_flight, self.kv_slots)
        return SaturationSample(running / self.kv_slots, float(self.in_flight - running))
