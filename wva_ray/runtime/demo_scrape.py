"""A direct-scrape `MetricsSource` for the demo: GET every pod's `/metrics` (no Prometheus), keep a short
history per pod, and answer like the Prometheus queries would (1 m peak of KV usage and queue length, 5 m
average input and output tokens). Does network I/O (aiohttp) and asks its host for the pod list.

Time windows are measured on the injected clock (the demo's compressed time), so "1 m" means one virtual
minute. A pod that answers 503 (still loading) or does not answer has no row; a pod list that cannot be read
raises `MetricsUnavailableError` (decisions hold).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import Clock, MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery
from wva_ray.runtime.remote import call

PEAK_WINDOW_S = 60.0
TOKENS_WINDOW_S = 300.0
SCRAPE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class PodSample:
    t_s: float
    kv: float
    queue: float
    running: float
    prompt_sum: float
    prompt_count: float
    gen_sum: float
    gen_count: float
    num_gpu_blocks: int | None
    block_size: int | None


def parse_exposition(text: str, t_s: float) -> PodSample:
    """The signals the analyzers need from one vLLM `/metrics` body (text format 0.0.4)."""
    values: dict[str, float] = {}
    blocks: int | None = None
    block_size: int | None = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "vllm:cache_config_info":
                blocks = int(float(s.labels.get("num_gpu_blocks", "0"))) or None
                block_size = int(float(s.labels.get("block_size", "0"))) or None
            else:
                values[s.name] = values.get(s.name, 0.0) + float(s.value)
    return PodSample(
        t_s,
        values.get("vllm:kv_cache_usage_perc", float("nan")),
        values.get("vllm:num_requests_waiting", float("nan")),
        values.get("vllm:num_requests_running", 0.0),
        values.get("vllm:request_prompt_tokens_sum", 0.0),
        values.get("vllm:request_prompt_tokens_count", 0.0),
        values.get("vllm:request_generation_tokens_sum", 0.0),
        values.get("vllm:request_generation_tokens_count", 0.0),
        blocks,
        block_size,
    )


def _avg(history: Sequence[PodSample], since_s: float, kind: str) -> float | None:
    window = [s for s in history if s.t_s >= since_s]
    if len(window) < 2:
        return None
    first, last = window[0], window[-1]
    d_count = getattr(last, f"{kind}_count") - getattr(first, f"{kind}_count")
    if d_count <= 0:
        return None
    return float((getattr(last, f"{kind}_sum") - getattr(first, f"{kind}_sum")) / d_count)


class DirectScrapeSource:
    """Implements `MetricsSource` by scraping the pods its host lists (`pod_endpoints(groups)`)."""

    def __init__(self, host: Any, clock: Clock) -> None:
        self.host = host
        self.clock = clock
        self._history: dict[str, deque[PodSample]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def _get(self, url: str) -> str | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_S))
        try:
            async with self._session.get(f"{url}/metrics") as resp:
                if resp.status != 200:
                    return None
                return await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        try:
            endpoints = await call(self.host, "pod_endpoints", list(groups))
        except Exception as exc:
            raise MetricsUnavailableError(f"pod list unavailable: {exc}") from exc
        bodies = await asyncio.gather(*(self._get(e.url) for e in endpoints))
        now_s = self.clock.now().timestamp()
        rows = []
        live = set()
        for e, body in zip(endpoints, bodies, strict=True):
            if body is None:
                continue
            live.add(e.pod)
            history = self._history.setdefault(e.pod, deque(maxlen=256))
            history.append(parse_exposition(body, now_s))
            while history and history[0].t_s < now_s - TOKENS_WINDOW_S:
                history.popleft()
            peak = [s for s in history if s.t_s >= now_s - PEAK_WINDOW_S]
            kv = max((s.kv for s in peak if s.kv == s.kv), default=None)
            queue = max((s.queue for s in peak if s.queue == s.queue), default=None)
            if kv is None or queue is None:
                continue
            last = history[-1]
            rows.append(
                PodMetrics(
                    namespace=e.namespace,
                    model_name=e.model_id,
                    pod=e.pod,
                    kv_cache_usage=kv,
                    queue_length=queue,
                    num_gpu_blocks=last.num_gpu_blocks,
                    block_size=last.block_size,
                    avg_input_tokens=_avg(history, now_s - TOKENS_WINDOW_S, "prompt"),
                    avg_output_tokens=_avg(history, now_s - TOKENS_WINDOW_S, "gen"),
                    running=last.running,
                )
            )
        known = {e.pod for e in endpoints}
        for pod in [p for p in self._history if p not in known]:
            del self._history[pod]
        return rows

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return []  # unknown: scale-to-zero keeps the targets (the demo does not enable it)

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        return []

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
