"""What every simulated policy sees: a scraped-metrics store and per-tick observations.

Owns `Tsdb` (an in-memory Prometheus stand-in: one sample per pod per scrape, `max_over_time`,
`avg_over_time`, `increase` over windows) and the frozen `Observation` values built from it. All
policies read the same delayed signals through these types, and nothing else: an observation carries no
serving profile, no start-up delay and no future (a test walks these types to keep it so). wva-ray
policies read only `Observation.snapshot`, the `wva-ray plan` input as the controller's readers would
build it (wva_ray.sim.render). Pure, no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

# Sample field order (per pod per scrape).
# ITL_SUM/ITL_N: vllm:inter_token_latency_seconds _sum/_count; TTFT_SUM, QUEUE_SUM: the _sum of
# time_to_first_token_seconds and request_queue_time_seconds (their _count is SUCCESS: both observed at completion).
KV, WAITING, RUNNING, SUCCESS, PROMPT_SUM, GEN_SUM, ITL_SUM, ITL_N, TTFT_SUM, QUEUE_SUM = range(10)


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    values: list[tuple[float, ...]] = field(default_factory=list)


class Tsdb:
    """Per-pod scraped samples; windows are (now - window, now] as in PromQL range selectors."""

    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}

    def append(self, pod: str, t_s: float, sample: tuple[float, ...]) -> None:
        series = self._series.setdefault(pod, _Series())
        series.times.append(t_s)
        series.values.append(sample)

    def _window(self, pod: str, now_s: float, window_s: float) -> list[tuple[float, ...]]:
        series = self._series.get(pod)
        if series is None:
            return []
        hi = bisect_right(series.times, now_s)
        lo = bisect_right(series.times, now_s - window_s, 0, hi)
        return series.values[lo:hi]

    def max_over_time(self, pod: str, idx: int, now_s: float, window_s: float) -> float | None:
        rows = self._window(pod, now_s, window_s)
        return max(r[idx] for r in rows) if rows else None

    def avg_over_time(self, pod: str, idx: int, now_s: float, window_s: float) -> float | None:
        rows = self._window(pod, now_s, window_s)
        return sum(r[idx] for r in rows) / len(rows) if rows else None

    def last(self, pod: str, idx: int, now_s: float, window_s: float = 300.0) -> float | None:
        rows = self._window(pod, now_s, window_s)
        return rows[-1][idx] if rows else None

    def increase(self, pod: str, idx: int, now_s: float, window_s: float) -> float | None:
        rows = self._window(pod, now_s, window_s)
        return rows[-1][idx] - rows[0][idx] if len(rows) >= 2 else None

    def rate(self, pod: str, idx: int, now_s: float, window_s: float) -> float | None:
        """Per-second increase between the first and last sample of the window (PromQL `rate`, unextrapolated)."""
        series = self._series.get(pod)
        if series is None:
            return None
        hi = bisect_right(series.times, now_s)
        lo = bisect_right(series.times, now_s - window_s, 0, hi)
        if hi - lo < 2:
            return None
        dt = series.times[hi - 1] - series.times[lo]
        return (series.values[hi - 1][idx] - series.values[lo][idx]) / dt if dt > 0 else None

    def span(self, pod: str, now_s: float, window_s: float) -> float | None:
        """Seconds between the first and the last sample in the window (what `increase` covers)."""
        series = self._series.get(pod)
        if series is None:
            return None
        hi = bisect_right(series.times, now_s)
        lo = bisect_right(series.times, now_s - window_s, 0, hi)
        return series.times[hi - 1] - series.times[lo] if hi - lo >= 2 else None

    def forget(self, pod: str) -> None:
        self._series.pop(pod, None)


@dataclass(frozen=True, slots=True)
class PodView:
    """One live (ready or draining) pod's signals, as PromQL would return them."""

    name: str
    ready: bool
    draining: bool
    kv_max_1m: float | None
    queue_max_1m: float | None
    kv_avg_30s: float | None
    ongoing_avg_30s: float | None  # running + waiting, averaged (Ray Serve's signal)
    running_last: float | None
    waiting_last: float | None
    avg_input_tokens_5m: float | None
    avg_output_tokens_5m: float | None
    arrival_rate_1m: float | None  # completed requests per second (rate of request_success_total)
    running_avg_1m: float | None = None  # avg_over_time(vllm:num_requests_running[1m])
    # the 1 m window analyzer `learned` reads (increases over the window; None = not scraped twice yet)
    window_1m_s: float | None = None  # span of the samples the increases cover
    kv_avg_1m: float | None = None
    completions_1m: float | None = None
    prompt_tokens_1m: float | None = None
    generation_tokens_1m: float | None = None
    itl_sum_1m: float | None = None
    itl_count_1m: float | None = None
    ttft_sum_1m: float | None = None
    queue_sum_1m: float | None = None
    created_s: float | None = None  # pod creation and Ready times (the Kubernetes API's view)
    ready_s: float | None = None


@dataclass(frozen=True, slots=True)
class VariantView:
    """One variant (= one VA + its Deployment) at decision time: what the API server and Prometheus show."""

    name: str
    model: str
    accelerator: str
    gpus: int
    cost_per_replica: float
    current: int  # starting + ready (not draining)
    ready: int
    pending: int
    min_replicas: int
    max_replicas: int
    pods: tuple[PodView, ...]


@dataclass(frozen=True, slots=True)
class ModelView:
    name: str
    priority: int
    gateway_queue: int  # requests held because no pod of the model is ready
    requests_10m: float  # completed requests over 10 minutes (scale-to-zero signal)
    requests_received: int = 0  # the gateway's cumulative request counter (frontend / EPP request total)


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything a policy may read at `now_s`."""

    now_s: float
    variants: tuple[VariantView, ...]
    models: tuple[ModelView, ...]
    gpu_free: dict[str, int] | None  # free GPUs per accelerator type under the budget; None = unlimited
    # The `wva-ray plan` input (camelCase JSON) without controller-owned parts (config, VA status, state);
    # rendered only for policies that set `reads_snapshot = True`.
    snapshot: dict[str, Any] | None = None
