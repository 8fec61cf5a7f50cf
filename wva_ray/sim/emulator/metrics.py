"""What one emulated vLLM pod exposes on `/metrics`: metric names, types, labels and buckets of vLLM's V1 engine
(../shared/spec/reference/vllm-metrics.md), scripted signals (fixed, ramp, square wave, ...) and the
accumulators fed by served requests. No I/O. Rendering: `emulator_render` (fast), `render_exposition_reference` here
(prometheus_client's `generate_latest`, the reference), both in the classic text format 0.0.4.

The colon trap: Prometheus 2.x scraping an exporter that negotiates OpenMetrics/UTF-8 stores `vllm:foo` as
`vllm_foo`; the emulator therefore always answers with `CONTENT_TYPE_PLAIN_0_0_4`, whatever the Accept header.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

TTFT_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
    80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
REQUEST_LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
    960.0, 1920.0, 7680.0,
)  # fmt: skip


def token_buckets(max_model_len: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 series up to `max_model_len` (request_prompt_tokens, request_generation_tokens)."""
    out: list[float] = []
    mantissa = (1, 2, 5)
    exponent = 0
    while True:
        for m in mantissa:
            value = m * 10**exponent
            if value > max_model_len:
                return tuple(out)
            out.append(float(value))
        exponent += 1


DEFAULT_MAX_MODEL_LEN = 131072
TOKEN_BUCKETS = token_buckets(DEFAULT_MAX_MODEL_LEN)


# ---- scripted signals -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Signal:
    """A value over time (seconds since the pod started).

    kind: `fixed` (start), `ramp` (start -> end over period_s, then holds end), `rampreset` (ramp, then
    restarts), `square` (start for the first half period, end for the second), `oscillate` (sine between
    start and end with period period_s, beginning at start).
    """

    kind: str
    start: float
    end: float = 0.0
    period_s: float = 0.0

    def value(self, t_s: float) -> float:
        if self.kind == "fixed":
            return self.start
        phase = (t_s % self.period_s) / self.period_s
        if self.kind == "ramp":
            frac = min(1.0, max(0.0, t_s / self.period_s))
            return self.start + (self.end - self.start) * frac
        if self.kind == "rampreset":
            return self.start + (self.end - self.start) * phase
        if self.kind == "square":
            return self.start if phase < 0.5 else self.end
        # oscillate
        return self.start + (self.end - self.start) * (1.0 - math.cos(2.0 * math.pi * phase)) / 2.0


SIGNAL_KINDS = ("fixed", "ramp", "rampreset", "square", "oscillate")


def parse_signal(text: str) -> Signal:
    """`0.5` (fixed) or `KIND:START:END:PERIOD_S` with KIND in ramp|rampreset|square|oscillate."""
    parts = text.strip().split(":")
    try:
        if len(parts) == 1:
            return Signal("fixed", float(parts[0]))
        if len(parts) == 4 and parts[0] in SIGNAL_KINDS[1:]:
            period = float(parts[3])
            if period <= 0:
                raise ValueError(f"period must be > 0, got {period}")
            return Signal(parts[0], float(parts[1]), float(parts[2]), period)
    except ValueError as exc:
        raise ValueError(f"invalid signal {text!r}: {exc}") from exc
    raise ValueError(
        f"invalid signal {text!r}: expected a number or KIND:START:END:PERIOD_S, KIND in {SIGNAL_KINDS[1:]}"
    )


@dataclass(frozen=True, slots=True)
class Script:
    """Scripted values. A set signal overrides what the replica model (if any) would report.

    `request_rate_per_s` > 0 adds synthetic finished requests (each `prompt_tokens` in, `output_tokens` out,
    `ttft_s`, `itl_s`) to the counters and histograms, so that rates and token averages are exact and known.
    `ttft_s`/`itl_s` are also the latency of `/v1/completions` on a pod without a replica model.
    """

    kv_cache_usage: Signal | None = None
    num_requests_waiting: Signal | None = None
    num_requests_running: Signal | None = None
    request_rate_per_s: float = 0.0
    prompt_tokens: int = 512
    output_tokens: int = 128
    ttft_s: float = 0.05
    itl_s: float = 0.01
    num_gpu_blocks: int = 25000
    block_size: int = 16


# ---- accumulators -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class HistogramAcc:
    """Cumulative histogram state (non-cumulative bucket counts, +Inf last)."""

    bounds: tuple[float, ...]
    counts: list[float] = field(default_factory=list)
    total: float = 0.0
    count: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0.0] * (len(self.bounds) + 1)

    def observe(self, value: float, n: float = 1.0) -> None:
        """Record `n` observations of `value` (n > 1: e.g. every inter-token gap of one request)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += n
        self.total += value * n
        self.count += n

    def plus_constant(self, value: float, n: float) -> HistogramAcc:
        """A copy with `n` more observations of `value` (the scripted contribution)."""
        out = HistogramAcc(self.bounds, list(self.counts), self.total, self.count)
        if n > 0:
            out.observe(value, n)
        return out

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0.0
        out: list[tuple[str, float]] = []
        for bound, c in zip(self.bounds, self.counts, strict=False):
            running += c
            out.append((_fmt_bound(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


def _fmt_bound(bound: float) -> str:
    return repr(float(bound))


GAUGES: tuple[tuple[str, str], ...] = (
    ("vllm:num_requests_running", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed."),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
)
COUNTERS: tuple[tuple[str, str], ...] = (
    ("vllm:prompt_tokens", "Number of prefill tokens processed."),
    ("vllm:generation_tokens", "Number of generation tokens processed."),
)
SUCCESS = ("vllm:request_success", "Count of successfully processed requests.")
CACHE_INFO = ("vllm:cache_config_info", "Information of the LLMEngine CacheConfig")
CACHE_INFO_LABELS = ("block_size", "cache_dtype", "engine", "gpu_memory_utilization", "num_gpu_blocks")

HISTOGRAMS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("vllm:request_prompt_tokens", "Number of prefill tokens processed.", TOKEN_BUCKETS),
    ("vllm:request_generation_tokens", "Number of generation tokens processed.", TOKEN_BUCKETS),
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS_S),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS_S),
    (
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        REQUEST_LATENCY_BUCKETS_S,
    ),
    (
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        REQUEST_LATENCY_BUCKETS_S,
    ),
)


@dataclass(slots=True)
class ServedTotals:
    """What served requests added so far (counters and histograms), owned by one pod."""

    prompt_tokens: float = 0.0
    generation_tokens: float = 0.0
    success_by_reason: dict[str, float] = field(default_factory=lambda: {"length": 0.0, "stop": 0.0})
    histograms: dict[str, HistogramAcc] = field(
        default_factory=lambda: {name: HistogramAcc(bounds) for name, _, bounds in HISTOGRAMS}
    )

    def record(
        self, prompt_tokens: int, output_tokens: int, queue_s: float, ttft_s: float, itl_s: float, e2e_s: float
    ) -> None:
        """One finished request (finished_reason `length`: the emulator always generates max_tokens)."""
        self.success_by_reason["length"] += 1
        self.prompt_tokens += prompt_tokens
        self.generation_tokens += output_tokens
        h = self.histograms
        h["vllm:request_prompt_tokens"].observe(prompt_tokens)
        h["vllm:request_generation_tokens"].observe(output_tokens)
        h["vllm:time_to_first_token_seconds"].observe(ttft_s)
        if output_tokens > 1:
            h["vllm:inter_token_latency_seconds"].observe(itl_s, output_tokens - 1)
        h["vllm:e2e_request_latency_seconds"].observe(e2e_s)
        h["vllm:request_queue_time_seconds"].observe(queue_s)


@dataclass(frozen=True, slots=True)
class PodView:
    """Everything `/metrics` shows for one pod at one instant."""

    model_name: str
    engine: str
    running: float
    waiting: float
    kv_usage_ratio: float
    prompt_tokens_total: float
    generation_tokens_total: float
    success_by_reason: dict[str, float]
    histograms: dict[str, HistogramAcc]
    num_gpu_blocks: int
    block_size: int
    created_s: float


def scripted_view(
    base: ServedTotals, script: Script, t_s: float
) -> tuple[float, float, dict[str, float], dict[str, HistogramAcc]]:
    """Served totals plus the scripted synthetic requests finished by `t_s` (an integer count)."""
    n = math.floor(script.request_rate_per_s * t_s + 1e-9) if script.request_rate_per_s > 0 else 0
    if n == 0:
        return base.prompt_tokens, base.generation_tokens, dict(base.success_by_reason), base.histograms
    out_tokens = script.output_tokens
    e2e = script.ttft_s + script.itl_s * (out_tokens - 1)
    hist = dict(base.histograms)
    adds = {
        "vllm:request_prompt_tokens": (float(script.prompt_tokens), n),
        "vllm:request_generation_tokens": (float(out_tokens), n),
        "vllm:time_to_first_token_seconds": (script.ttft_s, n),
        "vllm:inter_token_latency_seconds": (script.itl_s, n * (out_tokens - 1)),
        "vllm:e2e_request_latency_seconds": (e2e, n),
        "vllm:request_queue_time_seconds": (0.0, n),
    }
    for name, (value, count) in adds.items():
        hist[name] = base.histograms[name].plus_constant(value, count)
    success = dict(base.success_by_reason)
    success["length"] = success.get("length", 0.0) + n
    return (
        base.prompt_tokens + n * script.prompt_tokens,
        base.generation_tokens + n * out_tokens,
        success,
        hist,
    )


class _ViewCollector:
    """A prometheus_client collector over one PodView (only used to render it)."""

    def __init__(self, view: PodView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        v = self._view
        labels = ["model_name", "engine"]
        values = [v.model_name, v.engine]
        for (name, doc), value in zip(GAUGES, (v.running, v.waiting, v.kv_usage_ratio), strict=True):
            g = GaugeMetricFamily(name, doc, labels=labels)
            g.add_metric(values, value)
            yield g
        for (name, doc), value in zip(COUNTERS, (v.prompt_tokens_total, v.generation_tokens_total), strict=True):
            c = CounterMetricFamily(name, doc, labels=labels)
            c.add_metric(values, value, created=v.created_s)
            yield c
        succ = CounterMetricFamily(SUCCESS[0], SUCCESS[1], labels=[*labels, "finished_reason"])
        for reason in sorted(v.success_by_reason):
            succ.add_metric([*values, reason], v.success_by_reason[reason], created=v.created_s)
        yield succ
        for name, doc, _ in HISTOGRAMS:
            h = HistogramMetricFamily(name, doc, labels=labels)
            acc = v.histograms[name]
            h.add_metric(values, acc.cumulative(), acc.total)
            yield h
        info = GaugeMetricFamily(CACHE_INFO[0], CACHE_INFO[1], labels=list(CACHE_INFO_LABELS))
        info.add_metric([str(v.block_size), "auto", v.engine, "0.9", str(v.num_gpu_blocks)], 1.0)
        yield info


def render_exposition_reference(view: PodView) -> bytes:
    """The `/metrics` body in text format 0.0.4 rendered by prometheus_client's `generate_latest` (the reference
    the emulator's faster `emulator_render.ExpositionRenderer` is tested against, byte for byte)."""
    return generate_latest(_ViewCollector(view))


def bucket_bounds(name: str) -> Sequence[float]:
    """The bucket boundaries the emulator uses for histogram `name` (tests compare against vLLM's)."""
    for hist_name, _, bounds in HISTOGRAMS:
        if hist_name == name:
            return bounds
    raise KeyError(f"unknown histogram {name!r}")
