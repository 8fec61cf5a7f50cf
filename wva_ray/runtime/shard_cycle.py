"""One shard's work in one cycle: batched metrics collection for its groups, then `core.propose`. Does I/O only
through the `MetricsSource` it is given; the decision itself is the pure core.

Metrics are read with one call per signal for all of the shard's groups (never one per model). In direct-scrape
mode the work carries the pods' endpoints and the source (`adapters.scrape.ScrapeMetricsSource`) is re-targeted
with them first, for the shard's groups only (shards of the `--no-ray` runtime share one source). A source that
answers with warnings (`take_warnings`, optional) has them put in the snapshot. A source that times its calls
(`take_query_timings`, optional) has them put in the proposal, for the coordinator's exporter. A failed source
is not an error of the cycle: the proposal carries `metrics_error` and no rows, so the core holds decisions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime

from wva_ray.adapters.scrape import ScrapeTarget
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.config import parse_config, resolve_scale_to_zero
from wva_ray.core.decide import propose
from wva_ray.core.ports import MetricsSource, MetricsUnavailableError, QueryTiming, ScaleToZeroQuery, TransientApiError
from wva_ray.core.reminder import Reminder, Say
from wva_ray.runtime.cycle import ShardProposal, ShardWork
from wva_ray.runtime.gc_pause import gc_paused

log = logging.getLogger(__name__)


def scale_to_zero_queries(work: ShardWork) -> list[ScaleToZeroQuery]:
    """One request-count query per group of the shard that has scale-to-zero enabled."""
    cfg = parse_config(work.snapshot.config)
    out = []
    for group in work.groups:
        s = resolve_scale_to_zero(cfg, group.namespace, group.model_id)
        if s.enabled:
            out.append(ScaleToZeroQuery(group=group, retention_s=s.retention_s))
    return out


def query_timings(source: MetricsSource) -> tuple[QueryTiming, ...]:
    """The source's timed calls since it was last asked (none when it does not time them)."""
    take = getattr(source, "take_query_timings", None)
    return tuple(take()) if take is not None else ()


async def run_shard_step(
    work: ShardWork, source: MetricsSource, now: datetime, said: Reminder | None = None
) -> ShardProposal:
    """Collect, propose, and return the shard's proposal (with the source's query timings); never raises for
    metrics problems. `said`: the shard's reminder for its source's failures (logged when they start, every 5 min
    and when they end; without it, every failed step is logged)."""
    proposal = await _step(work, source, now)
    _log_source(work, proposal.metrics_error, said)
    return dataclasses.replace(proposal, query_timings=query_timings(source))


def _log_source(work: ShardWork, error: str | None, said: Reminder | None) -> None:
    if said is None:
        if error:
            log.warning("shard=%d cycle=%d metrics unavailable: %s", work.shard, work.cycle, error)
        return
    what = said.observe(True if error else None, time.monotonic())
    if what is Say.STARTED:
        log.warning("shard=%d cycle=%d metrics unavailable (decisions hold): %s", work.shard, work.cycle, error)
    elif what is Say.STILL:
        since = time.monotonic() - said.since_s
        log.warning(
            "shard=%d cycle=%d metrics still unavailable after %.0f s: %s", work.shard, work.cycle, since, error
        )
    elif what is Say.ENDED:
        log.info("shard=%d cycle=%d metrics available again", work.shard, work.cycle)


async def _step(work: ShardWork, source: MetricsSource, now: datetime) -> ShardProposal:
    started = time.perf_counter()
    if not work.groups:
        return ShardProposal(
            work.cycle, work.shard, work.groups, epoch=work.epoch, duration_s=time.perf_counter() - started
        )
    metrics: list[PodMetrics] = []
    counts: list[RequestCount] = []
    queues: list[FlowControlQueue] = []
    metrics_error: str | None = None
    set_targets = getattr(source, "set_targets", None)
    if work.endpoints and set_targets is not None:
        set_targets((ScrapeTarget(e.namespace, e.pod, e.model_id, e.url) for e in work.endpoints), work.groups)
    take_warnings = getattr(source, "take_warnings", None)  # optional: Prometheus' partial-answer warnings
    if take_warnings is not None:
        take_warnings()  # forget what an earlier (failed or cancelled) step left
    try:
        metrics = await source.pod_metrics(work.groups)
        queries = scale_to_zero_queries(work)
        if queries:
            counts = await source.request_counts(queries)
    except (MetricsUnavailableError, TransientApiError, OSError, TimeoutError) as exc:
        metrics_error = f"{type(exc).__name__}: {exc}"
        metrics, counts = [], []
    metrics_warnings: list[str] = list(take_warnings()) if take_warnings is not None else []
    if metrics_warnings:
        log.debug(
            "metrics partial (said by the MetricsAvailable condition)",
            extra={"shard": work.shard, "cycle": work.cycle, "warnings": metrics_warnings},
        )
    try:  # not when the source just failed: a dead Prometheus would be retried once more for nothing
        queues = [] if metrics_error else await source.flow_control_queues(work.groups)
    except (MetricsUnavailableError, TransientApiError, OSError, TimeoutError):
        queues = []
    snapshot = work.snapshot.model_copy(
        update={
            "now": now,
            "metrics": metrics,
            "request_counts": counts,
            "flow_control_queues": queues,
            "metrics_error": metrics_error,
            "metrics_warnings": metrics_warnings,
        }
    )
    try:
        with gc_paused():
            proposals = propose(snapshot, now)
    except Exception as exc:
        log.exception("propose failed", extra={"shard": work.shard, "cycle": work.cycle})
        return ShardProposal(
            work.cycle,
            work.shard,
            work.groups,
            epoch=work.epoch,
            error=f"{type(exc).__name__}: {exc}",
            metrics_error=metrics_error,
        )
    return ShardProposal(
        work.cycle,
        work.shard,
        work.groups,
        proposals=proposals,
        epoch=work.epoch,
        metrics_rows=len(metrics),
        metrics_error=metrics_error,
        duration_s=time.perf_counter() - started,
    )
