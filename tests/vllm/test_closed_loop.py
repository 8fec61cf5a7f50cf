"""Closed loop on REAL vLLM engines: load pushes the one engine of the target into queueing, wva-ray's own
controller cycle (the `--no-ray` runtime: `CycleCore` + `LocalRuntime`, wired by `testing.vllm_cluster`) scales
the target to 2, which starts a second real engine; once ready it takes traffic; after the load stops the
cycle scales back to 1 and the second engine is stopped. Metrics come from the engines' own `/metrics` (direct
scrape, kv/queue peak window shortened to 15 s so the test does not wait out Prometheus' [1m]).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from tests.vllm.conftest import NAMESPACE, READY_TIMEOUT_S, SPEC, TARGET
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.local import LocalRuntime
from wva_ray.testing.memory_cluster import VariantSpec
from wva_ray.testing.vllm_cluster import VllmCluster, VllmScrapeSource, VllmWiring
from wva_ray.testing.vllm_engine import VllmEngine, VllmFleet
from wva_ray.testing.vllm_load import ClosedLoopLoad

pytestmark = [pytest.mark.vllm, pytest.mark.integration, pytest.mark.timeout(900)]

MODEL = SPEC.served_model_name
INTERVAL_S = 5.0


async def _until(pred: Callable[[], bool], timeout_s: float, what: str, timeline: list[str]) -> float:
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout_s:
            tail = "\n".join(timeline[-15:])
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}; last cycles:\n{tail}")
        await asyncio.sleep(0.5)
    return time.monotonic() - start


def test_controller_scales_real_engines_up_and_down(fleet: VllmFleet, warm_engine: VllmEngine) -> None:
    variant = VariantSpec(TARGET, MODEL, "cpu", replicas=1, namespace=NAMESPACE, min_replicas=1, max_replicas=2)
    cluster = VllmCluster(fleet, variant, adopt=[warm_engine])
    source = VllmScrapeSource(cluster, window_s=15.0)
    wiring = VllmWiring(cluster, source)
    core = CycleCore(wiring.cluster_view(), wiring.publishers(), 1, wiring.clock())
    runtime = LocalRuntime(core, wiring.metrics_source(), interval_s=INTERVAL_S, deadline_s=10.0)
    timeline: list[str] = []
    t0 = time.monotonic()

    def on_report(report: CycleReport) -> None:
        for d in report.plan.decisions:
            timeline.append(
                f"t={time.monotonic() - t0:6.1f}s current={d.current_replicas} desired={d.desired_replicas} "
                f"ready={len(cluster.ready_pods())} reason={d.reason[:90]}"
            )

    def spec_replicas() -> int:
        return cluster.targets[f"{NAMESPACE}/{TARGET}"].spec_replicas

    async def scrape_forever(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await source.scrape_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def run() -> dict[str, float]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(scrape_forever(stop)), asyncio.create_task(runtime.run(stop, on_report))]
        load = ClosedLoopLoad(cluster.endpoints, MODEL, 24, 100, 64, 2048, seed=2)
        load.start()
        try:
            t_up = await _until(lambda: spec_replicas() == 2, 120.0, "a scale-up to 2", timeline)
            (new_pod,) = set(cluster.engines) - {p for p, e in cluster.engines.items() if e is warm_engine}
            t_ready = await _until(lambda: new_pod in cluster.ready_pods(), READY_TIMEOUT_S, "the engine", timeline)
            await _until(lambda: load.served_by().get(new_pod, 0) >= 10, 120.0, "traffic on the new engine", timeline)
            await load.stop(drain_s=30.0)
            t_down = await _until(lambda: spec_replicas() == 1, 240.0, "a scale-down to 1", timeline)
            await _until(
                lambda: not cluster.engines.get(new_pod) and new_pod not in cluster.ready_pods(), 30, "stop", []
            )
        finally:
            await load.stop(drain_s=1.0)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await source.close()
        return {"up_s": t_up, "ready_s": t_ready, "down_s": t_down, "new_pod_served": load.served_by()[new_pod]}

    try:
        got = asyncio.run(run())
    finally:
        cluster.close()
    print("\n".join(timeline))
    print(got)
    assert got["new_pod_served"] >= 10
    assert warm_engine.running and len(fleet.engines) == 1  # the second engine was really stopped
