"""The vLLM emulator over real loopback HTTP: exposition format, health delay, completions latency, stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.sim.emulator.metrics import ITL_BUCKETS_S, REQUEST_LATENCY_BUCKETS_S, TTFT_BUCKETS_S, Script, Signal
from wva_ray.sim.emulator.server import Emulator, PodSpec
from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.replica import ReplicaModel

pytestmark = pytest.mark.timeout(60)

VLLM_TTFT = [
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
    20,
    40,
    80,
    160,
    640,
    2560,
]
VLLM_ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
VLLM_REQUEST = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]
REQUIRED = {
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:request_success": "counter",
    "vllm:prompt_tokens": "counter",
    "vllm:generation_tokens": "counter",
    "vllm:request_prompt_tokens": "histogram",
    "vllm:request_generation_tokens": "histogram",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:cache_config_info": "gauge",
}


def run(body: Callable[[Emulator, aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        emu = Emulator()
        try:
            async with aiohttp.ClientSession() as session:
                return await body(emu, session)
        finally:
            await emu.close()

    return asyncio.run(main())


def test_bucket_constants_are_vllms() -> None:
    assert list(TTFT_BUCKETS_S) == VLLM_TTFT
    assert list(ITL_BUCKETS_S) == VLLM_ITL
    assert list(REQUEST_LATENCY_BUCKETS_S) == VLLM_REQUEST


def test_metrics_are_text_004_with_colon_names_whatever_the_accept_header() -> None:
    async def body(emu: Emulator, s: aiohttp.ClientSession) -> None:
        pod = await emu.start_pod(PodSpec(name="p", model="m1", script=Script(kv_cache_usage=Signal("fixed", 0.3))))
        accept = "application/openmetrics-text;version=1.0.0;escaping=underscores,text/plain;version=1.0.0;q=0.5"
        async with s.get(pod.url + "/metrics", headers={"Accept": accept}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await resp.text()
        assert "vllm:kv_cache_usage_perc{" in text and "vllm_kv_cache_usage_perc" not in text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        for name, kind in REQUIRED.items():
            assert families[name].type == kind, name
        kv = families["vllm:kv_cache_usage_perc"].samples[0]
        assert kv.labels == {"model_name": "m1", "engine": "0"} and kv.value == 0.3
        (info,) = families["vllm:cache_config_info"].samples
        assert "model_name" not in info.labels
        assert {"block_size", "num_gpu_blocks", "engine"} <= set(info.labels)
        success = families["vllm:request_success"].samples
        assert {s.labels["finished_reason"] for s in success if s.name.endswith("_total")} >= {"length", "stop"}
        ttft_bounds = [
            float(x.labels["le"])
            for x in families["vllm:time_to_first_token_seconds"].samples
            if x.name.endswith("_bucket") and x.labels["le"] != "+Inf"
        ]
        assert ttft_bounds == VLLM_TTFT

    run(body)


def test_health_is_503_during_startup_delay() -> None:
    async def body(emu: Emulator, s: aiohttp.ClientSession) -> tuple[list[int], float, int]:
        t0 = time.monotonic()
        pod = await emu.start_pod(PodSpec(name="p", model="m1", startup_delay_s=0.6))
        statuses: list[int] = []
        async with s.get(pod.url + "/metrics") as resp:
            metrics_status = resp.status
        while True:
            async with s.get(pod.url + "/health") as resp:
                statuses.append(resp.status)
                if resp.status == 200:
                    return statuses, time.monotonic() - t0, metrics_status
            await asyncio.sleep(0.05)

    statuses, became_ready_s, metrics_status = run(body)
    assert statuses[0] == 503 and statuses[-1] == 200
    assert set(statuses[:-1]) == {503}
    assert became_ready_s >= 0.6
    assert metrics_status == 503


def test_completions_answer_after_the_modelled_latency() -> None:
    profile = get_profile("llama-3.1-8b/L40S")
    prompt, output = 2000, 40
    reference = ReplicaModel(profile)
    reference.submit("r", prompt, output, 0.0)
    (expected,) = reference.advance(100.0)

    async def body(emu: Emulator, s: aiohttp.ClientSession) -> tuple[float, dict[str, Any]]:
        pod = await emu.start_pod(PodSpec(name="p", model="m1", profile=profile))
        t0 = time.monotonic()
        req = {"model": "m1", "prompt_tokens": prompt, "max_tokens": output}
        async with s.post(pod.url + "/v1/completions", json=req) as resp:
            assert resp.status == 200
            data = await resp.json()
        elapsed = time.monotonic() - t0
        async with s.get(pod.url + "/metrics") as resp:
            text = await resp.text()
        data["metrics"] = {x.name: x.value for f in text_string_to_metric_families(text) for x in f.samples}
        return elapsed, data

    elapsed, data = run(body)
    assert data["usage"] == {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["wva_timing"]["e2e_s"] == pytest.approx(expected.e2e_s, rel=1e-6)
    assert data["wva_timing"]["ttft_s"] == pytest.approx(expected.ttft_s, rel=1e-6)
    print(f"completion wall time {elapsed:.3f} s, modelled e2e {expected.e2e_s:.3f} s")
    assert expected.e2e_s <= elapsed < expected.e2e_s + 5.0  # generous upper bound: a loaded 2-core machine
    m = data["metrics"]
    assert m["vllm:prompt_tokens_total"] == prompt
    assert m["vllm:generation_tokens_total"] == output
    assert m["vllm:request_prompt_tokens_sum"] == prompt and m["vllm:request_prompt_tokens_count"] == 1
    assert m["vllm:inter_token_latency_seconds_count"] == output - 1
    assert m["vllm:e2e_request_latency_seconds_sum"] == pytest.approx(expected.e2e_s, rel=1e-6)


def test_load_drives_kv_and_queue() -> None:
    profile = get_profile("llama-3.1-8b/L40S")

    async def body(emu: Emulator, s: aiohttp.ClientSession) -> dict[str, float]:
        pod = await emu.start_pod(PodSpec(name="p", model="m1", profile=profile))
        n = profile.max_num_seqs + 20
        many = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        reqs = [
            asyncio.create_task(many.post(pod.url + "/v1/completions", json={"prompt_tokens": 500, "max_tokens": 2000}))
            for _ in range(n)
        ]
        deadline = time.monotonic() + 20
        while pod.model is not None and pod.model.load < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        async with s.get(pod.url + "/metrics") as resp:
            text = await resp.text()
        await emu.stop_pod("p")
        for task in reqs:
            (await task).release()
        await many.close()
        return {x.name: x.value for f in text_string_to_metric_families(text) for x in f.samples}

    m = run(body)
    assert m["vllm:num_requests_running"] == profile.max_num_seqs
    assert m["vllm:num_requests_waiting"] == 20
    assert m["vllm:kv_cache_usage_perc"] >= profile.max_num_seqs * 500 / profile.kv_capacity_tokens


def test_bad_requests() -> None:
    async def body(emu: Emulator, s: aiohttp.ClientSession) -> list[int]:
        pod = await emu.start_pod(PodSpec(name="p", model="m1"))
        out = []
        for req in ({"model": "other", "max_tokens": 2}, {"max_tokens": 0}, {"prompt_tokens": -1}):
            async with s.post(pod.url + "/v1/completions", json=req) as resp:
                out.append(resp.status)
        return out

    assert run(body) == [404, 400, 400]


def test_stopped_pod_refuses_even_on_a_kept_alive_connection() -> None:
    async def body(emu: Emulator, s: aiohttp.ClientSession) -> tuple[int, str]:
        pod = await emu.start_pod(PodSpec(name="p", model="m1"))
        async with s.get(pod.url + "/metrics") as resp:
            first = resp.status
        await emu.stop_pod("p")
        try:
            async with s.get(pod.url + "/metrics") as resp:
                return first, f"status {resp.status}"
        except aiohttp.ClientError as exc:
            return first, type(exc).__name__

    first, second = run(body)
    assert first == 200
    assert second != "status 200"


def test_duplicate_pod_name_and_file_sd() -> None:
    async def body(emu: Emulator, s: aiohttp.ClientSession) -> list[dict[str, Any]]:
        a = await emu.start_pod(PodSpec(name="a", model="m1", namespace="ns"))
        with pytest.raises(ValueError, match="already exists"):
            await emu.start_pod(PodSpec(name="a", model="m1"))
        targets = emu.file_sd_targets()
        assert targets == [{"targets": [f"127.0.0.1:{a.port}"], "labels": {"namespace": "ns", "pod": "a"}}]
        return targets

    run(body)
