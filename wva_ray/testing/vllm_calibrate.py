"""The real-engine side of `wva-ray calibrate`: measure one running vLLM engine's profile parameters and replay a
request sequence through it, sampling its `/metrics`. Does network I/O (aiohttp) against the engine.

- `measure_decode`: closed-loop runs of N clients (short and long prompts) -> the median request's mean ITL per run.
- `measure_prefill`: lone requests of several prompt lengths with 2 output tokens -> TTFT per length.
- `replay_real`: the sequence sent open-loop at its arrival times (streamed, client-side TTFT and ITL), with
  `/metrics` (running, waiting, KV use, completions) sampled every `sample_every_s`.
The pure counterparts (fit, model replay, comparison) are in `wva_ray.sim.calibrate`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.sim.calibrate.fit import ItlSample, PrefillSample
from wva_ray.sim.calibrate.replay import Latency, ReplayRequest, ReplayResult, StateSample
from wva_ray.testing.vllm_engine import VllmEngine
from wva_ray.testing.vllm_load import ClosedLoopLoad, EngineEndpoint, prompt_ids, stream_completion

VOCAB_SIZE = 2048  # the tiny model's (scripts/vllm/build_tiny_model.py)


async def read_gauges(session: aiohttp.ClientSession, engine: VllmEngine) -> tuple[float, float, float, float]:
    """(running, waiting, kv ratio, completions so far) from the engine's `/metrics`."""
    async with session.get(engine.metrics_url, timeout=aiohttp.ClientTimeout(total=5.0)) as resp:
        text = await resp.text()
    running = waiting = kv = done = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "vllm:num_requests_running":
                running = s.value
            elif s.name == "vllm:num_requests_waiting":
                waiting = s.value
            elif s.name == "vllm:kv_cache_usage_perc":
                kv = s.value
            elif s.name == "vllm:request_success_total":
                done += s.value
    return running, waiting, kv, done


async def measure_decode(
    engine: VllmEngine,
    concurrencies: Sequence[int] = (1, 2, 4, 8),
    prompts: Sequence[int] = (32, 400),
    output_tokens: int = 128,
    run_s: float = 8.0,
    seed: int = 0,
) -> list[ItlSample]:
    """One sample per (N, prompt): the mean ITL of the requests finished in a closed-loop run of N clients."""
    out: list[ItlSample] = []
    model = engine.spec.served_model_name
    for prompt in prompts:
        for n in concurrencies:
            load = ClosedLoopLoad(
                lambda: [EngineEndpoint(engine.name, engine.url)], model, n, prompt, output_tokens, VOCAB_SIZE, seed
            )
            load.start()
            await asyncio.sleep(run_s)
            await load.stop(drain_s=60.0)
            itls = sorted(r.itl_s for r in load.results if r.ok and r.itl_s > 0)
            if itls:  # the median request: robust to the spikes of a shared machine
                kv_tokens = n * (prompt + output_tokens / 2.0)
                out.append(ItlSample(float(n), kv_tokens, itls[len(itls) // 2], prompt, output_tokens))
    return out


async def measure_prefill(
    engine: VllmEngine, prompts: Sequence[int] = (16, 300, 600, 900), repeats: int = 7, seed: int = 0
) -> list[PrefillSample]:
    """TTFT of lone requests (nothing else running), the median of `repeats` per prompt length (a shared
    machine's spikes are as large as the prefill itself)."""
    rng = random.Random(seed)
    out: list[PrefillSample] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(repeats):
            for p in prompts:
                r = await stream_completion(
                    session, engine.name, engine.url, engine.spec.served_model_name,
                    prompt_ids(p, rng, VOCAB_SIZE), 2, time.monotonic(),
                )  # fmt: skip
                if r.ok:
                    out.append(PrefillSample(p, r.ttft_s))
    medians = []
    for p in prompts:
        ttfts = sorted(s.ttft_s for s in out if s.prompt_tokens == p)
        if ttfts:
            medians.append(PrefillSample(p, ttfts[len(ttfts) // 2]))
    return medians


async def replay_real(
    engine: VllmEngine,
    requests: Sequence[ReplayRequest],
    sample_every_s: float = 1.0,
    tail_s: float = 60.0,
    seed: int = 0,
) -> ReplayResult:
    """Send `requests` open-loop at their arrival times; sample the engine's gauges until all finished."""
    rng = random.Random(seed)
    prompts = [prompt_ids(r.prompt_tokens, rng, VOCAB_SIZE) for r in requests]
    model = engine.spec.served_model_name
    samples: list[StateSample] = []
    latencies: list[Latency] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        _, _, _, done0 = await read_gauges(session, engine)
        origin = time.monotonic()

        async def one(i: int, r: ReplayRequest) -> None:
            delay = origin + r.at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            res = await stream_completion(session, engine.name, engine.url, model, prompts[i], r.output_tokens, origin)
            latencies.append(Latency(r.at_s, res.ttft_s, res.itl_s, res.ok))

        senders = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        end = origin + (max((r.at_s for r in requests), default=0.0)) + tail_s
        k = 0
        while True:
            t_next = origin + k * sample_every_s
            delay = t_next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                running, waiting, kv, done = await read_gauges(session, engine)
            except (aiohttp.ClientError, TimeoutError):  # a busy server dropped the scrape: skip this sample
                k += 1
                continue
            samples.append(StateSample(round(k * sample_every_s, 6), running, waiting, kv, done - done0))
            k += 1
            if all(t.done() for t in senders) or time.monotonic() > end:
                break
        for t in senders:
            t.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
    return ReplayResult(samples, sorted(latencies, key=lambda x: x.start_s))
