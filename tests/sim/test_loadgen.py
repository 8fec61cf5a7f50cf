"""The load generator against emulated vLLM pods over loopback HTTP (real sockets, short runs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from wva_ray.sim.emulator.server import Emulator, PodSpec
from wva_ray.sim.loadgen import LoadResult, LoadSpec, replay, summarize, synthetic_trace
from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.traces import Trace, load_trace

pytestmark = pytest.mark.timeout(90)


def _run(trace: Trace, spec: LoadSpec, pods: int = 2, no_endpoints: bool = False) -> tuple[LoadResult, list[int]]:
    async def main() -> tuple[LoadResult, list[int]]:
        emu = Emulator()
        try:
            started = [
                await emu.start_pod(PodSpec(name=f"p{i}", model="m1", profile=get_profile("llama-3.1-8b/L40S")))
                for i in range(pods)
            ]
            urls = [] if no_endpoints else [p.url for p in started]
            result = await replay(trace, urls, spec)
            served = [int(p.totals.success_by_reason["length"]) for p in started]
            return result, served
        finally:
            await emu.close()

    return asyncio.run(main())


def test_replays_a_synthetic_trace_and_records_latencies() -> None:
    trace = synthetic_trace(rate_per_s=40.0, duration_s=1.0, tokens="azure-conv", seed=3)
    trace = Trace(trace.arrival_s, np.minimum(trace.prompt_tokens, 2000), np.minimum(trace.output_tokens, 60))
    result, served = _run(trace, LoadSpec(model="m1"))
    assert len(result.records) == len(trace) and result.skipped == 0
    assert all(r.ok for r in result.records), [r.error for r in result.records if not r.ok]
    assert sum(served) == len(trace) and min(served) > 0  # both pods got traffic
    for r in result.records:
        assert r.ttft_s is not None and r.e2e_s is not None and r.itl_s is not None
        assert 0 < r.ttft_s <= r.e2e_s + 1e-9
        assert r.sent_s >= r.scheduled_s - 1e-3  # never early
    s = result.summary()
    assert s["ok"] == len(trace) and s["e2e_s"].count == len(trace)


def test_replays_a_public_trace_file_time_scaled(shared_dir: Path) -> None:
    trace = load_trace(shared_dir / "data/traces/azure_llm_2023_conv.csv").window(100.0, 110.0)
    trace = Trace(trace.arrival_s, np.minimum(trace.prompt_tokens, 4000), np.minimum(trace.output_tokens, 30))
    result, _ = _run(trace, LoadSpec(model="m1", time_scale=0.2))
    assert len(result.records) == len(trace) > 5
    assert all(r.ok for r in result.records)
    print(f"10 s trace slot replayed at 0.2x in {result.wall_s:.2f} s wall")
    assert result.wall_s < 10.0 * 0.2 + 30.0  # faster than real time (10 s) is not assertable on a loaded machine
    sched = [r.scheduled_s for r in result.records]
    assert sched == pytest.approx(list(trace.arrival_s * 0.2))


def test_bounds_in_count_and_time() -> None:
    trace = Trace(np.arange(20, dtype=np.float64) * 0.05, np.full(20, 10, np.int64), np.full(20, 2, np.int64))
    by_count, _ = _run(trace, LoadSpec(model="m1", max_requests=5), pods=1)
    assert len(by_count.records) == 5 and by_count.skipped == 15
    by_time, _ = _run(trace, LoadSpec(model="m1", max_duration_s=0.32), pods=1)
    assert len(by_time.records) == 7 and by_time.skipped == 13  # due times 0.00 .. 0.30


def test_no_endpoint_is_recorded_as_an_error() -> None:
    trace = Trace(np.zeros(3), np.full(3, 10, np.int64), np.full(3, 2, np.int64))
    result, _ = _run(trace, LoadSpec(model="m1"), no_endpoints=True)
    assert [r.error for r in result.records] == ["no endpoint"] * 3
    assert result.summary()["errors"] == 3


def test_summarize() -> None:
    s = summarize([float(x) for x in range(1, 101)])
    assert s.count == 100 and s.p50 == pytest.approx(50.5) and s.p99 == pytest.approx(99.01)
    assert summarize([]).p50 is None
