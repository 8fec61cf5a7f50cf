"""The metrics source's query timings travel from the shards to the coordinator's exporter (WVA v0.9's
`wva_metrics_collection_duration_seconds` / `..._errors_total`): in the shard's proposal, on the shard wire until
a proposal carrying them is accepted, and end to end in the `--no-ray` runtime and with real Ray, both against a
real Prometheus (and a closed port for the errors)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.adapters.conftest import local_prometheus  # noqa: F401  (the session fixture)
from tests.core.builders import V, snapshot
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.api.snapshot import FlowControlQueue, PodMetrics, RequestCount
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef, QueryTiming, ScaleToZeroQuery
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.runtime.cycle import ShardProposal, ShardWork
from wva_ray.runtime.local import LocalRuntime
from wva_ray.runtime.shard_codec import UNSENT_TIMINGS_MAX, ProposalEncoder
from wva_ray.runtime.shard_cycle import run_shard_step
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring
from wva_ray.testing.prometheus_server import LocalPrometheus
from wva_ray.testing.remote import MemoryClusterClient

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
GROUP = ModelGroupRef("llm", "m1")


class TimedSource:
    """Answers (or fails) and says what it timed, as the Prometheus source does."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.timed: list[QueryTiming] = []

    async def pod_metrics(self, groups: Sequence[ModelGroupRef]) -> list[PodMetrics]:
        self.timed.append(QueryTiming("kv_cache", 0.1, "timeout" if self.fail else ""))
        if self.fail:
            raise MetricsUnavailableError("timed out")
        return []

    async def request_counts(self, queries: Sequence[ScaleToZeroQuery]) -> list[RequestCount]:
        return []

    async def flow_control_queues(self, groups: Sequence[ModelGroupRef]) -> list[FlowControlQueue]:
        self.timed.append(QueryTiming("queue_length", 0.2))
        return []

    def take_query_timings(self) -> list[QueryTiming]:
        out, self.timed = self.timed, []
        return out


@pytest.mark.parametrize(
    ("fail", "want"),
    [
        pytest.param(False, (QueryTiming("kv_cache", 0.1), QueryTiming("queue_length", 0.2)), id="answered"),
        # the source just failed: the flow-control queues are not asked of it too (a dead Prometheus retried again)
        pytest.param(True, (QueryTiming("kv_cache", 0.1, "timeout"),), id="metrics-failed"),
    ],
)
def test_the_shard_step_puts_the_sources_timings_in_its_proposal(fail: bool, want: tuple[QueryTiming, ...]) -> None:
    work = ShardWork(1, 0, (GROUP,), snapshot(V("a", [(0.5, 0.0)], model="m1")))
    source = TimedSource(fail)
    proposal = asyncio.run(run_shard_step(work, source, NOW))
    assert proposal.query_timings == want
    assert (proposal.metrics_error is not None) == fail
    assert source.timed == []  # taken, so never counted twice


def _proposal(*timings: QueryTiming) -> ShardProposal:
    return ShardProposal(1, 0, (), proposals=None, epoch="e1", query_timings=timings)


A, B, C = QueryTiming("kv_cache", 0.1), QueryTiming("queue_length", 0.2), QueryTiming("request_count", 0.3, "timeout")


@pytest.mark.parametrize(
    ("answer", "second_carries"),
    [
        pytest.param(True, (C,), id="accepted-then-only-its-own"),
        pytest.param(False, (A, B, C), id="late-rides-on-the-next"),
        pytest.param("resync", (A, B, C), id="refused-base-rides-on-the-next"),
        pytest.param(None, (A, B, C), id="submit-failed-rides-on-the-next"),
    ],
)
def test_timings_ride_on_the_wire_until_a_proposal_carrying_them_is_accepted(
    answer: bool | str | None, second_carries: tuple[QueryTiming, ...]
) -> None:
    enc = ProposalEncoder()
    first = enc.encode(_proposal(A, B))
    assert first.proposal.query_timings == (A, B)
    if answer is None:
        enc.reset()  # what the shard actor does when submit raises
    else:
        enc.settled(answer)
    second = enc.encode(_proposal(C))
    assert second.proposal.query_timings == second_carries


def test_unsent_timings_are_bounded_oldest_first() -> None:
    enc = ProposalEncoder()
    many = [QueryTiming("kv_cache", float(i)) for i in range(UNSENT_TIMINGS_MAX + 5)]
    enc.encode(_proposal(*many[:10]))
    enc.settled(False)
    wire = enc.encode(_proposal(*many[10:]))
    assert wire.proposal.query_timings == tuple(many[-UNSENT_TIMINGS_MAX:])


# ---- end to end, real Prometheus ---------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _collection(text: str) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """(count by query_type, errors by (query_type, reason)) of the exposition `text`."""
    counts: dict[str, float] = {}
    errors: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "wva_metrics_collection_duration_seconds_count":
                counts[s.labels["query_type"]] = s.value
            elif s.name == "wva_metrics_collection_errors_total":
                errors[(s.labels["query_type"], s.labels["reason"])] = s.value
    return counts, errors


def _memory_cluster(clock: Callable[[], float]) -> MemoryCluster:
    c = MemoryCluster(clock)
    for acc, cost in (("H100", 10.0), ("L40S", 3.0)):
        c.add_variant(VariantSpec(f"m1-{acc.lower()}", "m1", acc, cost=cost, namespace="llm"))
    c.set_load("m1", 0.3, 0.0)
    return c


def _settings(prometheus: LocalPrometheus, reachable: bool) -> PrometheusSettings:
    url = prometheus.url if reachable else f"http://127.0.0.1:{_closed_port()}"
    return PrometheusSettings(base_url=url, retries=0, timeout_s=5.0)


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.mark.integration
@pytest.mark.parametrize("reachable", [pytest.param(True, id="answered"), pytest.param(False, id="refused")])
def test_no_ray_runtime_exports_the_collection_of_every_cycle(
    local_prometheus: LocalPrometheus,  # noqa: F811
    reachable: bool,
) -> None:
    cluster = _memory_cluster(time.monotonic)
    client = MemoryClusterClient(cluster, direct=True)
    gauges = GaugeExporter()
    source = PrometheusMetricsSource(_settings(local_prometheus, reachable))
    runtime = LocalRuntime(CycleCore(client, [client], 2, _Clock(), gauges), source, interval_s=30.0, deadline_s=10.0)
    try:
        for _ in range(2):
            asyncio.run(runtime.run_once())
    finally:
        source.close()
    counts, errors = _collection(gauges.render().decode())
    # per cycle: the pod batch under 3 types and the flow-control read under queue_length (one shard owns m1);
    # a source that failed the batch is not asked for the flow-control read
    if reachable:
        assert counts == {"kv_cache": 2, "queue_length": 4, "cache_config": 2}
        assert errors == {}
    else:
        assert counts == {"kv_cache": 2, "queue_length": 2, "cache_config": 2}
        assert errors == {
            ("kv_cache", "connection_refused"): 2,
            ("queue_length", "connection_refused"): 2,
            ("cache_config", "connection_refused"): 2,
        }


@pytest.mark.integration
@pytest.mark.timeout(180)
@pytest.mark.parametrize("reachable", [pytest.param(True, id="answered"), pytest.param(False, id="refused")])
def test_ray_shards_carry_their_timings_to_the_coordinators_exporter(
    ray_session: None,
    local_prometheus: LocalPrometheus,  # noqa: F811
    reachable: bool,
) -> None:
    import ray

    from wva_ray.runtime.coordinator_actor import CoordinatorOptions
    from wva_ray.runtime.launch import start_ray_runtime, stop_ray_runtime

    prefix = f"t{uuid.uuid4().hex[:6]}-"
    host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
    host = host_cls.options(name=f"{prefix}cluster", namespace="wva").remote(time.monotonic)
    for acc, cost in (("H100", 10.0), ("L40S", 3.0)):
        ray.get(host.add_variant.remote(VariantSpec(f"m1-{acc.lower()}", "m1", acc, cost=cost, namespace="llm")))
    wiring = MemoryWiring(host, direct=True, prometheus=_settings(local_prometheus, reachable))
    rt = start_ray_runtime(wiring, CoordinatorOptions(shards=2, interval_s=1.0, deadline_s=5.0), name_prefix=prefix)
    try:
        deadline = time.monotonic() + 120
        counts: dict[str, float] = {}
        errors: dict[tuple[str, str], float] = {}
        while time.monotonic() < deadline:
            families = ray.get(rt.coordinator.families.remote(), timeout=30)
            text = "".join(_exposition(f) for f in families)
            counts, errors = _collection(text)
            if counts.get("kv_cache", 0) >= 3:
                break
            time.sleep(0.5)
        cycles = counts["kv_cache"]
        assert cycles >= 3
        # every cycle's batch counted under each of its types; flow control adds one queue_length per cycle when
        # the batch was answered (a proposal's timings are observed together, so a read never sees half a cycle)
        assert counts["cache_config"] == cycles
        assert counts["queue_length"] == (2 if reachable else 1) * cycles
        if reachable:
            assert errors == {}
        else:
            assert errors[("kv_cache", "connection_refused")] == cycles
            assert set(errors) == {(t, "connection_refused") for t in ("kv_cache", "queue_length", "cache_config")}
    finally:
        stop_ray_runtime(rt)
        ray.kill(host, no_restart=True)


def _exposition(family: Any) -> str:
    """One relayed family in the text format (as the driver serves it)."""
    from prometheus_client import CollectorRegistry, generate_latest

    class _One:
        def collect(self) -> list[Any]:
            return [family]

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_One())  # type: ignore[arg-type]
    return generate_latest(reg).decode()
