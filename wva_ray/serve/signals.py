"""Per-replica saturation signals from replica-reported Serve custom metrics (mode `replica_stats`). Pure.

Replicas report `{kv_stat: kv_ratio, queue_stat: waiting}` through `record_autoscaling_stats()`; Serve hands the
policy their time series in `AutoscalingContext.raw_metrics[name][replica_id]`. For every RUNNING replica we take
the samples inside the window ending at the context's time and aggregate them (`max` by default, like upstream's
`max_over_time`). A replica counts only if both signals have a sample no older than `max_age_s`; NaN and Inf
samples are dropped, never read as zero. Series of replicas that are no longer running are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wva_ray.serve.settings import SignalAggregation


class TimedValue(Protocol):
    """Shape of Serve's `TimeStampedValue`."""

    @property
    def timestamp(self) -> float: ...

    @property
    def value(self) -> float: ...


RawMetrics = Mapping[str, Mapping[Any, Sequence[TimedValue]]]


@dataclass(frozen=True, slots=True)
class SignalWindow:
    """How to turn one replica's series into one value, relative to the context's time."""

    now_s: float
    window_s: float
    max_age_s: float
    aggregation: SignalAggregation


def aggregate_series(series: Sequence[TimedValue] | None, window: SignalWindow) -> float | None:
    """One value for one series, or None when no finite sample is fresh enough (missing data, held upstream).

    Serve appends samples in time order, so the walk goes from the newest backwards and stops at the first
    sample older than the window (this is the policy's hot loop: Serve calls it every 0.1 s).
    """
    if not series:
        return None
    start = window.now_s - window.window_s
    newest_ts: float | None = None
    newest = peak = total = 0.0
    count = 0
    for sample in reversed(series):
        ts = sample.timestamp
        if ts < start:
            break
        val = sample.value
        if -math.inf < val < math.inf:  # drops NaN and +/-Inf
            if newest_ts is None:
                newest_ts, newest, peak = ts, val, val
            elif val > peak:
                peak = val
            total += val
            count += 1
    if newest_ts is None or window.now_s - newest_ts > window.max_age_s:
        return None
    if window.aggregation == "max":
        return peak
    if window.aggregation == "mean":
        return total / count
    return newest


def replica_pods(
    raw: RawMetrics | None,
    running: Sequence[Hashable],
    kv_stat: str,
    queue_stat: str,
    window: SignalWindow,
) -> tuple[tuple[float, float], ...]:
    """(kv_ratio, queue_len) for each running replica that has fresh values of both stats."""
    if not raw:
        return ()
    kv_by_replica = raw.get(kv_stat)
    queue_by_replica = raw.get(queue_stat)
    if not kv_by_replica or not queue_by_replica:
        return ()
    pods: list[tuple[float, float]] = []
    for replica in running:
        kv = aggregate_series(kv_by_replica.get(replica), window)
        if kv is None:
            continue
        queue = aggregate_series(queue_by_replica.get(replica), window)
        if queue is None:
            continue
        pods.append((kv, queue))
    return tuple(pods)
