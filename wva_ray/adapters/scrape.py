"""`MetricsSource` that scrapes the pods' `/metrics` itself (clusters without Prometheus, the embedded demo).
Does network I/O (aiohttp, on the event loop; parsing with prometheus_client's text parser).

The caller gives the targets (pod name -> URL, namespace, model) with `set_targets`. Every `pod_metrics` call
scrapes the requested groups' pods (unless scraped less than `min_scrape_interval_s` ago) and keeps its own
history per pod, from which it derives what Prometheus would: the 1 m peak of KV usage and of the waiting
queue, the 5 m token averages (delta of the histograms' `_sum` / `_count`, counter resets handled), the mean
running count and the completion rate over 1 m, request counts over a retention window, and for analyzer
`learned` the 1 m window of the latency histograms (ITL, TTFT, queue and prefill time `_sum`/`_count` increases),
the completions, the token sums and the mean running/KV gauges. Call `scrape_once`
(or run `run_forever`) between cycles so the windows hold more than one sample per cycle.

A pod whose last successful scrape is older than `stale_after_s` is reported `stale`; a pod never scraped
successfully has no row. When every requested target fails in one call, `MetricsUnavailableError` is raised
(never zeros).

Two clocks. `clock` is the controller's: it stamps every scrape, picks the scrapes of a window ("the last minute",
the 5 m token window, a scale-to-zero retention), and ages a pod into `stale`. `rate_clock` is the time the pods
serve in: every rate this source reports (`arrival_rate`, and learned's `window_seconds`, the denominator of
completions, tokens and histogram counts per second) divides by the `rate_clock` time between the window's first
and last scrape. The analyzers set such rates against capacities they derive from the pods' own latencies (ITL,
prefill time, queue time), which the pods measure in their time; a rate per controller second would be in another
unit whenever the two clocks differ. In a cluster they are one clock (`rate_clock` defaults to `clock`), and
nothing changes. The embedded demo runs its controller on compressed trace time (`ScaledClock`, `speed` trace
seconds per wall second) while its emulated pods serve in wall time: there `rate_clock` is the wall clock, so
demand comes out in requests per wall second like the capacity it is compared with, not `speed`-fold too low.
Counts (request counts over a retention, token averages, window sums) carry no time unit and are not rescaled.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import MetricsSource, MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    """One vLLM pod: `url` is its base URL (`/metrics` is appended unless the URL already has a path)."""

    namespace: str
    pod: str
    model: str
    url: str

    @property
    def metrics_url(self) -> str:
        rest = self.url.split("://", 1)[-1]
        return self.url if "/" in rest else self.url.rstrip("/") + "/metrics"


@dataclass(frozen=True, slots=True)
class Point:
    """One successful scrape of one pod (counters are cumulative)."""

    t_s: float
    kv: float
    waiting: float
    running: float
    prompt_sum: float
    prompt_count: float
    gen_sum: float
    gen_count: float
    success: float
    num_gpu_blocks: int | None
    block_size: int | None
    # histogram _sum/_count pairs analyzer learned reads (0 when the engine does not expose them)
    itl_sum: float = 0.0
    itl_count: float = 0.0
    ttft_sum: float = 0.0
    ttft_count: float = 0.0
    queue_sum: float = 0.0
    queue_count: float = 0.0
    prefill_sum: float = 0.0
    prefill_count: float = 0.0
    # the scrape's time on the source's rate clock (the time the pods serve in); None: the same as t_s
    rate_t_s: float | None = None

    @property
    def rate_s(self) -> float:
        """The scrape's time on the rate clock: rate denominators are differences of these."""
        return self.t_s if self.rate_t_s is None else self.rate_t_s


def parse_exposition(text: str, model: str, t_s: float, rate_t_s: float | None = None) -> Point:
    """The signals of `model` in one `/metrics` body (max over engines for gauges, sum for counters), scraped at
    `t_s` on the controller's clock and `rate_t_s` on the rate clock (None: one clock)."""
    gauges: dict[str, float] = {}
    sums: dict[str, float] = {}
    blocks: int | None = None
    block_size: int | None = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "vllm:cache_config_info":
                with contextlib.suppress(KeyError, ValueError):
                    blocks, block_size = int(s.labels["num_gpu_blocks"]), int(s.labels["block_size"])
                continue
            if s.labels.get("model_name") != model:
                continue
            if s.name in ("vllm:kv_cache_usage_perc", "vllm:num_requests_waiting", "vllm:num_requests_running"):
                gauges[s.name] = max(gauges.get(s.name, s.value), s.value)
            elif s.name in _COUNTERS:
                sums[s.name] = sums.get(s.name, 0.0) + s.value
    if "vllm:kv_cache_usage_perc" not in gauges and "vllm:num_requests_waiting" not in gauges:
        raise ValueError(f"no vllm:kv_cache_usage_perc or vllm:num_requests_waiting for model_name={model!r}")
    return Point(
        t_s=t_s,
        kv=gauges.get("vllm:kv_cache_usage_perc", 0.0),
        waiting=gauges.get("vllm:num_requests_waiting", 0.0),
        running=gauges.get("vllm:num_requests_running", 0.0),
        prompt_sum=sums.get("vllm:request_prompt_tokens_sum", 0.0),
        prompt_count=sums.get("vllm:request_prompt_tokens_count", 0.0),
        gen_sum=sums.get("vllm:request_generation_tokens_sum", 0.0),
        gen_count=sums.get("vllm:request_generation_tokens_count", 0.0),
        success=sums.get("vllm:request_success_total", 0.0),
        num_gpu_blocks=blocks,
        block_size=block_size,
        rate_t_s=rate_t_s,
        **{field: sums.get(name, 0.0) for field, name in _LEARNED_SERIES.items()},
    )


_LEARNED_SERIES = {
    "itl_sum": "vllm:inter_token_latency_seconds_sum",
    "itl_count": "vllm:inter_token_latency_seconds_count",
    "ttft_sum": "vllm:time_to_first_token_seconds_sum",
    "ttft_count": "vllm:time_to_first_token_seconds_count",
    "queue_sum": "vllm:request_queue_time_seconds_sum",
    "queue_count": "vllm:request_queue_time_seconds_count",
    "prefill_sum": "vllm:request_prefill_time_seconds_sum",
    "prefill_count": "vllm:request_prefill_time_seconds_count",
}
_COUNTERS = frozenset(
    {
        "vllm:request_prompt_tokens_sum",
        "vllm:request_prompt_tokens_count",
        "vllm:request_generation_tokens_sum",
        "vllm:request_generation_tokens_count",
        "vllm:request_success_total",
        *_LEARNED_SERIES.values(),
    }
)


def counter_increase(old: float, new: float) -> float:
    """Increase of a counter between two samples; a drop is a reset (the new value is the increase)."""
    return new - old if new >= old else new


class PodHistory:
    """Points of one pod, oldest first, trimmed to `keep_s`."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.points: deque[Point] = deque()
        self.last_ok_s: float | None = None

    def add(self, p: Point) -> None:
        self.points.append(p)
        self.last_ok_s = p.t_s
        # keep one point at or before the window's start, so that deltas span the whole window
        while len(self.points) > 2 and self.points[1].t_s <= p.t_s - self.keep_s:
            self.points.popleft()

    def since(self, start_s: float) -> list[Point]:
        times = [p.t_s for p in self.points]
        return list(self.points)[bisect.bisect_left(times, start_s) :]

    def at_or_before(self, t_s: float) -> Point | None:
        best = None
        for p in self.points:
            if p.t_s > t_s:
                break
            best = p
        return best


def window_row(
    target: ScrapeTarget, hist: PodHistory, now_s: float, window_s: float, rate_window_s: float, stale_after_s: float
) -> PodMetrics | None:
    """The row Prometheus' queries would give for this pod, from its own history (None without data). `now_s` and
    the windows are on the controller's clock (they pick the scrapes); rates divide by the time between the picked
    scrapes on the rate clock (`Point.rate_s`)."""
    if not hist.points or hist.last_ok_s is None:
        return None
    last = hist.points[-1]
    recent = hist.since(now_s - window_s) or [last]
    base = hist.at_or_before(now_s - rate_window_s) or hist.points[0]
    d_pc = counter_increase(base.prompt_count, last.prompt_count)
    d_gc = counter_increase(base.gen_count, last.gen_count)
    minute = hist.at_or_before(now_s - window_s) or hist.points[0]
    elapsed = last.rate_s - minute.rate_s  # the rate clock's seconds between the window's first and last scrape
    return PodMetrics(
        namespace=target.namespace,
        model_name=target.model,
        pod=target.pod,
        kv_cache_usage=max(p.kv for p in recent),
        queue_length=max(p.waiting for p in recent),
        num_gpu_blocks=last.num_gpu_blocks,
        block_size=last.block_size,
        avg_input_tokens=counter_increase(base.prompt_sum, last.prompt_sum) / d_pc if d_pc > 0 else None,
        avg_output_tokens=counter_increase(base.gen_sum, last.gen_sum) / d_gc if d_gc > 0 else None,
        stale=now_s - hist.last_ok_s > stale_after_s,
        running=sum(p.running for p in recent) / len(recent),
        arrival_rate=counter_increase(minute.success, last.success) / elapsed if elapsed > 0 else None,
        **_learned_window(minute, last, recent, elapsed),
    )


def _learned_window(first: Point, last: Point, recent: Sequence[Point], elapsed: float) -> dict[str, float]:
    """The window analyzer learned reads (PodMetrics.window_seconds ...): gauges averaged over the window, counters
    and histogram _sum/_count as increases over it; nothing when the window holds a single scrape. `elapsed` (the
    window's length, learned's rate denominator) is in rate-clock seconds."""
    if elapsed <= 0:
        return {}

    def inc(field: str) -> float:
        return counter_increase(getattr(first, field), getattr(last, field))

    out = {
        "window_seconds": elapsed,
        "running_mean": sum(p.running for p in recent) / len(recent),
        "kv_usage_mean": sum(p.kv for p in recent) / len(recent),
        "waiting_now": last.waiting,
        "completions": inc("success"),
        "prompt_tokens": inc("prompt_sum"),
        "generation_tokens": inc("gen_sum"),
    }
    pairs = (("itl", "itl"), ("ttft", "ttft"), ("queue", "queue"), ("prefill", "prefill"))
    for src, dst in pairs:
        if getattr(last, f"{src}_count") > 0:
            out[f"{dst}_seconds_sum"] = inc(f"{src}_sum")
            out[f"{dst}_count"] = inc(f"{src}_count")
    return out


class ScrapeMetricsSource:
    """Implements `wva_ray.core.ports.MetricsSource` by scraping pods directly."""

    def __init__(
        self,
        targets: Iterable[ScrapeTarget] = (),
        window_s: float = 60.0,
        rate_window_s: float = 300.0,
        history_s: float = 600.0,
        stale_after_s: float = 30.0,
        timeout_s: float = 2.0,
        min_scrape_interval_s: float = 1.0,
        concurrency: int = 64,
        clock: Callable[[], float] = time.monotonic,
        rate_clock: Callable[[], float] | None = None,
    ) -> None:
        """`clock`: the controller's time in seconds (windows, staleness, retention). `rate_clock`: the time the pods
        serve in, the denominator of every reported rate (None: `clock`; see the module docstring)."""
        self.window_s = window_s
        self.rate_window_s = rate_window_s
        self.history_s = max(history_s, rate_window_s, window_s)
        self.stale_after_s = stale_after_s
        self.timeout_s = timeout_s
        self.min_scrape_interval_s = min_scrape_interval_s
        self._concurrency = concurrency
        self._clock = clock
        self._rate_clock = rate_clock
        self._targets: dict[tuple[str, str], ScrapeTarget] = {}
        self._history: dict[tuple[str, str], PodHistory] = {}
        self._last_try: dict[tuple[str, str], float] = {}
        self._session: aiohttp.ClientSession | None = None
        self.scrapes = 0
        self.set_targets(targets)

    def set_targets(self, targets: Iterable[ScrapeTarget], groups: Sequence[ModelGroupRef] | None = None) -> None:
        """Replace the targets; pods no longer listed lose their history. With `groups`, only the targets of those
        model groups are replaced (`targets` should hold only theirs) and the other groups' pods keep their targets
        and history: shards that share one source (the `--no-ray` runtime) each re-target their own groups, and a
        whole replacement by one shard would wipe the other shards' windows every cycle."""
        new = {(t.namespace, t.pod): t for t in targets}
        if groups is not None:
            scope = {(g.namespace, g.model_id) for g in groups}
            kept = {k: t for k, t in self._targets.items() if (t.namespace, t.model) not in scope}
            new = {**kept, **new}
        self._targets = new
        for key in set(self._history) - set(self._targets):
            del self._history[key]
            self._last_try.pop(key, None)

    def _now(self) -> tuple[float, float | None]:
        """This moment on the controller's clock and on the rate clock (None when they are one)."""
        return self._clock(), None if self._rate_clock is None else self._rate_clock()

    def _keep_s(self, retention_s: float = 0.0) -> float:
        return max(self.history_s, retention_s)

    async def _scrape(self, targets: Sequence[ScrapeTarget], force: bool) -> tuple[int, int]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        session = self._session
        sem = asyncio.Semaphore(self._concurrency)
        now = self._clock()
        todo = [
            t
            for t in targets
            if force or now - self._last_try.get((t.namespace, t.pod), -1e18) >= self.min_scrape_interval_s
        ]

        async def one(t: ScrapeTarget) -> bool:
            key = (t.namespace, t.pod)
            async with sem:
                self._last_try[key] = self._clock()
                try:
                    async with session.get(t.metrics_url) as resp:
                        if resp.status != 200:
                            return False
                        text = await resp.text()
                    point = parse_exposition(text, t.model, *self._now())
                except (aiohttp.ClientError, TimeoutError, ValueError, UnicodeDecodeError):
                    return False
            hist = self._history.setdefault(key, PodHistory(self._keep_s()))
            hist.add(point)
            return True

        results = await asyncio.gather(*(one(t) for t in todo))
        self.scrapes += len(todo)
        return sum(results), len(todo)

    async def scrape_once(self) -> int:
        """Scrape every target now; returns the number of successful scrapes."""
        ok, _ = await self._scrape(list(self._targets.values()), force=True)
        return ok

    async def run_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        """Scrape every `interval_s` until `stop` is set (keeps the windows filled between cycles)."""
        while not stop.is_set():
            await self.scrape_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    def _targets_of(self, groups: Sequence[ModelGroupRef]) -> list[ScrapeTarget]:
        owned = {(g.namespace, g.model_id) for g in groups}
        return [t for t in self._targets.values() if (t.namespace, t.model) in owned]

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        targets = self._targets_of(groups)
        if not targets:
            return []
        ok, tried = await self._scrape(targets, force=False)
        if tried and not ok:
            raise MetricsUnavailableError(f"direct scrape: all {tried} target(s) of the requested groups failed")
        now = self._clock()
        rows = []
        for t in sorted(targets, key=lambda t: (t.namespace, t.model, t.pod)):
            hist = self._history.get((t.namespace, t.pod))
            row = (
                window_row(t, hist, now, self.window_s, self.rate_window_s, self.stale_after_s)
                if hist is not None
                else None
            )
            if row is not None:
                rows.append(row)
        return rows

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        """Completed requests per group over its retention; no row when the history cannot tell a zero."""
        rows: list[RequestCount] = []
        await self._scrape(self._targets_of([q.group for q in queries]), force=False)
        now = self._clock()
        for query in queries:
            total = 0.0
            group_targets = self._targets_of([query.group])
            unknown = not group_targets  # no pods: no series, as with Prometheus
            for t in group_targets:
                hist = self._history.get((t.namespace, t.pod))
                if hist is None or not hist.points:
                    unknown = True
                    continue
                hist.keep_s = max(hist.keep_s, query.retention_s)
                base = hist.at_or_before(now - query.retention_s)
                if base is None:
                    unknown = True  # history shorter than the retention: only a non-zero count is certain
                    base = hist.points[0]
                total += counter_increase(base.success, hist.points[-1].success)
            if total > 0 or not unknown:
                rows.append(RequestCount(namespace=query.group.namespace, model_name=query.group.model_id, count=total))
        return rows

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        """The direct scrape source has no EPP target: always empty."""
        return []

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _conforms(source: ScrapeMetricsSource) -> MetricsSource:
    """Static check (mypy): the class implements the core's MetricsSource Protocol."""
    return source
