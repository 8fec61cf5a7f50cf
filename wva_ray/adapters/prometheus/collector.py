"""`MetricsSource` backed by Prometheus: per cycle ONE instant query per signal for all the model groups the
caller owns (see `queries`), run concurrently in worker threads (the HTTP calls block, so they run in
the source's own thread pool via `loop.run_in_executor`, like `asyncio.to_thread` but not limited by the default
pool's size; the event loop never blocks), all evaluated at the same timestamp, joined per pod. Does network I/O.

Per `pod_metrics` call: kv, queue, freshness (timestamp of the newest KV sample, for `stale`), cache config,
average input and output tokens, and (setting `slo_signals`) running and completion rate: 6 or 8 queries
(14 more with `learned_signals`: the 1 m windows analyzer learned reads), whatever the number of models.
`request_counts`: one query per distinct retention (normally one).
`flow_control_queues`: one query. Any failed query (after bounded retries) raises `MetricsUnavailableError`:
a failure is never reported as zeros or as an empty frame. A batch stops at its first failed query: the queries
not started yet are not sent (a dead Prometheus costs one query's retries per batch, not every query's: with
analyzer learned's 22 queries each retried, a shard step took about 15 s against a refused connection). An
answer with `warnings` (partial) is used, and its warnings are kept for `take_warnings` (they reach the VA's
MetricsAvailable condition).

Each call is also timed for WVA v0.9's `wva_metrics_collection_duration_seconds` and `..._errors_total`, kept for
`take_query_timings` as upstream labels them: the `pod_metrics` batch counts once under each of `kv_cache`,
`queue_length` and `cache_config` (upstream times its batched saturation refresh so), `request_counts` under
`request_count`, `flow_control_queues` under `queue_length` (upstream's scale-from-zero read). A failed call also
carries its `reason` (`client.error_reason`); a cancelled one (the shard's deadline) is recorded as `canceled`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from wva_ray.adapters.prometheus import queries as q
from wva_ray.adapters.prometheus.client import PrometheusHttp, PrometheusSettings, error_reason
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import MetricsSource, MetricsUnavailableError, ModelGroupRef, QueryTiming, ScaleToZeroQuery

# WVA v0.9's `query_type` label values (its metrics constants), per call of this source
POD_METRICS_TYPES = ("kv_cache", "queue_length", "cache_config")
REQUEST_COUNT_TYPES = ("request_count",)
FLOW_CONTROL_TYPES = ("queue_length",)


class PrometheusMetricsSource:
    """Implements `wva_ray.core.ports.MetricsSource` against one Prometheus server."""

    def __init__(
        self,
        settings: PrometheusSettings | None = None,
        http: PrometheusHttp | None = None,
        wall_clock: Callable[[], float] = time.time,
        perf_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings or (http.settings if http else PrometheusSettings())
        self._http = http or PrometheusHttp(self.settings)
        self._wall_clock = wall_clock
        self._perf_clock = perf_clock
        self._timings: list[QueryTiming] = []  # since the last `take_query_timings`
        self.queries_sent = 0  # cumulative, for the health metrics and the benchmark
        self._sent_lock = threading.Lock()
        self._warnings: set[str] = set()  # Prometheus' answer warnings since the last `take_warnings`
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.query_concurrency, thread_name_prefix="prometheus-query"
        )

    async def _run(self, queries: Mapping[str, str], eval_ts_s: float) -> dict[str, list[q.Sample]]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._http.refresh_auth)
        names = list(queries)
        gave_up = threading.Event()  # one query failed after its retries: the rest of the batch is not sent

        def one(name: str) -> tuple[list[Mapping[str, Any]], tuple[str, ...]]:
            if gave_up.is_set():
                raise MetricsUnavailableError(f"query {name} not sent: another query of this batch failed")
            with self._sent_lock:
                self.queries_sent += 1
            try:
                return self._http.query_with_warnings(queries[name], eval_ts_s, name)
            except MetricsUnavailableError:
                gave_up.set()
                raise

        raw = await asyncio.gather(*(loop.run_in_executor(self._pool, one, n) for n in names), return_exceptions=True)
        out: dict[str, list[q.Sample]] = {}
        errors: list[BaseException] = []
        for name, res in zip(names, raw, strict=True):
            if isinstance(res, BaseException):
                errors.append(res)
                continue
            result, warnings = res
            self._warnings.update(f"{name}: {w}" for w in warnings)
            out[name] = q.parse_vector(_as_vector(result))
        if errors:
            sent = [e for e in errors if "not sent: another query" not in str(e)]
            first = (sent or errors)[0]
            if isinstance(first, MetricsUnavailableError):
                raise first
            raise MetricsUnavailableError(f"Prometheus {self._http.url}: {first!r}") from first
        return out

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        if not groups:
            return []
        eval_ts = self._wall_clock()
        queries = q.pod_queries(
            q.GroupSelector.of(groups),
            with_slo_signals=self.settings.slo_signals,
            with_learned_signals=self.settings.learned_signals,
        )
        async with self._timed(POD_METRICS_TYPES):
            results = await self._run(queries, eval_ts)
        return q.join_pod_rows(results, groups, eval_ts, self.settings.stale_after_s)

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        if not queries:
            return []
        by_retention: dict[float, list[ModelGroupRef]] = {}
        for item in queries:
            by_retention.setdefault(item.retention_s, []).append(item.group)
        promql = {
            f"request_count[{q.format_duration(r)}]#{i}": q.request_count_query(q.GroupSelector.of(groups), r)
            for i, (r, groups) in enumerate(sorted(by_retention.items()))
        }
        async with self._timed(REQUEST_COUNT_TYPES):
            results = await self._run(promql, self._wall_clock())
        rows: list[RequestCount] = []
        for (_, groups), name in zip(sorted(by_retention.items()), promql, strict=True):
            rows.extend(q.request_count_rows(results[name], groups))
        return rows

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        if not groups:
            return []
        models = sorted({g.model_id for g in groups})
        async with self._timed(FLOW_CONTROL_TYPES):
            results = await self._run({"flow_control_queue": q.flow_control_query(models)}, self._wall_clock())
        return q.flow_control_rows(results["flow_control_queue"], groups)

    @asynccontextmanager
    async def _timed(self, query_types: Sequence[str]) -> AsyncIterator[None]:
        """Record how long the body took under each query type, with the failure's reason if it raised."""
        started = self._perf_clock()
        reason = ""
        try:
            yield
        except BaseException as exc:
            reason = error_reason(exc)
            raise
        finally:
            duration_s = self._perf_clock() - started
            self._timings.extend(QueryTiming(t, duration_s, reason) for t in query_types)

    def take_query_timings(self) -> list[QueryTiming]:
        """The calls timed since the last call, oldest first; then forgets them. Nothing is dropped at the start
        of a step: what a cancelled step left is reported by the next one (each timing is taken once)."""
        out, self._timings = self._timings, []
        return out

    def take_warnings(self) -> list[str]:
        """The distinct `warnings` of the answers since the last call (`signal: text`), sorted; then forgets them.
        The shard step reads them after `pod_metrics` (one shard step at a time per source)."""
        out, self._warnings = sorted(self._warnings), set()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


def _as_vector(res: object) -> list[Mapping[str, Any]]:
    """The query's result list (items are checked by `parse_vector`, which skips malformed ones)."""
    if not isinstance(res, list):
        raise MetricsUnavailableError(f"unexpected Prometheus result of type {type(res).__name__}")
    return res


def _conforms(source: PrometheusMetricsSource) -> MetricsSource:
    """Static check (mypy): the class implements the core's MetricsSource Protocol."""
    return source
