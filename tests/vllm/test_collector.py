"""The collector against REAL vLLM engines: through a real Prometheus and through direct scrape it reads every
signal analyzers V1, V2 and `slo` use, joins `cache_config_info` on the pod, and `decide()` scales up when the
engine queues. Load: 24 streamed clients on one engine of 8 seats (prompts of 200 token ids, 160 output tokens
with ignore_eos), which also overflows the 64-block KV cache, so preemption is real.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.adapters.conftest import poll
from tests.vllm.conftest import NAMESPACE, SPEC, TARGET
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.adapters.scrape import ScrapeMetricsSource
from wva_ray.api.snapshot import PodMetrics, Snapshot, SnapshotConfig
from wva_ray.core.decide import decide
from wva_ray.core.ports import ModelGroupRef, ScaleToZeroQuery
from wva_ray.testing.memory_cluster import VariantSpec
from wva_ray.testing.prometheus_server import LocalPrometheus
from wva_ray.testing.vllm_cluster import VllmCluster
from wva_ray.testing.vllm_engine import VllmEngine, VllmFleet
from wva_ray.testing.vllm_load import ClosedLoopLoad

pytestmark = [pytest.mark.vllm, pytest.mark.integration, pytest.mark.timeout(900)]

MODEL = SPEC.served_model_name
GROUP = ModelGroupRef(NAMESPACE, MODEL)
PROMPT_TOKENS = 200
OUTPUT_TOKENS = 160
VOCAB = 2048
LOAD_S = 25.0


@dataclass(frozen=True)
class Observed:
    prometheus_rows: list[PodMetrics]
    direct_rows: list[PodMetrics]
    snapshot: Snapshot
    preemptions: float
    pod: str
    ok_requests: int


def _raw_counter(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5.0) as resp:
        text = resp.read().decode("utf-8")
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def _prom_has_target(prom: LocalPrometheus, pod: str) -> bool:
    query = urllib.parse.urlencode({"query": f'vllm:num_requests_waiting{{pod="{pod}"}}'})
    with urllib.request.urlopen(f"{prom.url}/api/v1/query?{query}", timeout=5.0) as resp:
        return b'"result":[{' in resp.read()


@pytest.fixture(scope="module")
def observed(fleet: VllmFleet, warm_engine: VllmEngine, prometheus: LocalPrometheus) -> Iterator[Observed]:
    variant = VariantSpec(TARGET, MODEL, "cpu", replicas=1, namespace=NAMESPACE, max_replicas=2)
    cluster = VllmCluster(fleet, variant, adopt=[warm_engine])
    (pod,) = cluster.engines
    prometheus.write_targets(cluster.file_sd_targets())
    poll(
        lambda: _prom_has_target(prometheus, pod), timeout_s=60.0, interval_s=0.5, what="Prometheus scraping the engine"
    )
    prom_source = PrometheusMetricsSource(PrometheusSettings(base_url=prometheus.url, retries=1, stale_after_s=30.0))
    direct = ScrapeMetricsSource(cluster.scrape_targets(), min_scrape_interval_s=0.0, timeout_s=5.0)
    preempt_before = _raw_counter(warm_engine.metrics_url, "vllm:num_preemptions_total")

    async def run() -> Observed:
        load = ClosedLoopLoad(cluster.endpoints, MODEL, 24, PROMPT_TOKENS, OUTPUT_TOKENS, VOCAB, seed=1)
        load.start()
        try:
            end = time.monotonic() + LOAD_S
            while time.monotonic() < end:
                await direct.scrape_once()
                await asyncio.sleep(1.0)
            prom_rows = await prom_source.pod_metrics([GROUP])
            direct_rows = await direct.pod_metrics([GROUP])
        finally:
            await load.stop(drain_s=5.0)  # cancels the rest: the engine aborts them
            await direct.close()
        preempted = _raw_counter(warm_engine.metrics_url, "vllm:num_preemptions_total") - preempt_before
        ok = sum(1 for r in load.results if r.ok)
        return Observed(prom_rows, direct_rows, cluster.observe(datetime.now(UTC)), preempted, pod, ok)

    try:
        yield asyncio.run(run())
    finally:
        prom_source.close()
        prometheus.write_targets([])
        poll(lambda: _raw_counter(warm_engine.metrics_url, "vllm:num_requests_running") == 0 or None, 120.0, 1.0)


def _check_row(row: PodMetrics, pod: str) -> None:
    assert row.namespace == NAMESPACE and row.model_name == MODEL and row.pod == pod
    assert not row.stale
    assert row.queue_length >= 5, row  # 24 clients, 8 seats: the engine queues (V1's saturation)
    assert 0.3 < row.kv_cache_usage <= 1.0, row  # KV pressure is real
    assert (row.num_gpu_blocks, row.block_size) == (SPEC.num_gpu_blocks, SPEC.block_size), row  # the join on pod
    assert row.avg_input_tokens == pytest.approx(PROMPT_TOKENS, rel=0.01), row  # V2 and slo
    assert row.avg_output_tokens == pytest.approx(OUTPUT_TOKENS, rel=0.01), row
    assert row.running is not None and 1.0 <= row.running <= SPEC.max_num_seqs, row  # slo
    assert row.arrival_rate is not None and row.arrival_rate > 0.5, row  # slo: completions per second


def test_prometheus_reads_every_signal_from_a_real_engine(observed: Observed) -> None:
    assert observed.ok_requests > 10
    (row,) = observed.prometheus_rows
    _check_row(row, observed.pod)


def test_direct_scrape_reads_every_signal_from_a_real_engine(observed: Observed) -> None:
    (row,) = observed.direct_rows
    _check_row(row, observed.pod)


def test_kv_overflow_preempts(observed: Observed) -> None:
    """8 x (200 + 160) tokens do not fit 64 x 32: the engine preempts (the KV cache was really sized down)."""
    assert observed.preemptions > 0


@pytest.mark.parametrize("analyzer", ["", "saturation", "slo"], ids=["v1", "v2", "slo"])
def test_decide_scales_up_when_the_engine_queues(observed: Observed, analyzer: str) -> None:
    config = SnapshotConfig(saturation={"default": {"analyzerName": analyzer}} if analyzer else {})
    for rows in (observed.prometheus_rows, observed.direct_rows):
        snap = observed.snapshot.model_copy(update={"metrics": rows, "config": config})
        (d,) = decide(snap).decisions
        assert (d.current_replicas, d.desired_replicas) == (1, 2), d.reason


def test_request_counts_from_real_counters(observed: Observed, prometheus: LocalPrometheus) -> None:
    src = PrometheusMetricsSource(PrometheusSettings(base_url=prometheus.url, retries=1))
    try:
        (count,) = asyncio.run(src.request_counts([ScaleToZeroQuery(GROUP, 600.0)]))
    finally:
        src.close()
    assert count.count > 0
