"""Load for real vLLM engines: streamed `/v1/completions` requests with exact lengths (the prompt as token ids,
`max_tokens` with `ignore_eos`), client-side TTFT and ITL, and a closed-loop load of N concurrent clients
spread over the ready engines of a fleet (fewest requests in flight first). Does network I/O (aiohttp).

ITL is the per-request mean, (last token - first token) / (output tokens - 1), as vLLM's and the replica
model's own definitions; the output token count comes from the stream's `usage`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

FIRST_ORDINARY_TOKEN_ID = 3  # 0-2 are the tiny model's special tokens (<s>, </s>, <unk>)


@dataclass(frozen=True, slots=True)
class RequestResult:
    """One finished (or failed) request; times in seconds, `start_s` relative to the caller's origin."""

    engine: str
    start_s: float
    prompt_tokens: int
    output_tokens: int
    ttft_s: float
    itl_s: float
    e2e_s: float
    ok: bool
    error: str = ""


def prompt_ids(n_tokens: int, rng: random.Random, vocab_size: int) -> list[int]:
    """`n_tokens` random ordinary token ids (random: no prefix-cache hits between requests)."""
    return [rng.randrange(FIRST_ORDINARY_TOKEN_ID, vocab_size) for _ in range(max(1, n_tokens))]


async def stream_completion(
    session: aiohttp.ClientSession,
    engine: str,
    url: str,
    model: str,
    prompt: Sequence[int],
    max_tokens: int,
    origin_s: float,
    timeout_s: float = 600.0,
) -> RequestResult:
    """Send one streamed completion and time its tokens."""
    body = {
        "model": model,
        "prompt": list(prompt),
        "max_tokens": max_tokens,
        "min_tokens": max_tokens,
        "ignore_eos": True,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.monotonic()
    first: float | None = None
    last = start
    out_tokens = 0
    prompt_n = len(prompt)
    try:
        async with session.post(
            f"{url}/v1/completions", json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as resp:
            if resp.status != 200:
                text = await resp.text()
                raise RuntimeError(f"HTTP {resp.status}: {text[:200]}")
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                chunk = json.loads(data)
                usage = chunk.get("usage")
                if usage:
                    out_tokens = int(usage.get("completion_tokens") or out_tokens)
                    prompt_n = int(usage.get("prompt_tokens") or prompt_n)
                if chunk.get("choices"):
                    now = time.monotonic()
                    if first is None:
                        first = now
                    last = now
    except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
        end = time.monotonic()
        return RequestResult(engine, start - origin_s, prompt_n, out_tokens, 0.0, 0.0, end - start, False, repr(exc))
    end = time.monotonic()
    if first is None:
        return RequestResult(engine, start - origin_s, prompt_n, 0, 0.0, 0.0, end - start, False, "no tokens")
    out_tokens = out_tokens or max_tokens
    itl = (last - first) / (out_tokens - 1) if out_tokens > 1 else 0.0
    return RequestResult(engine, start - origin_s, prompt_n, out_tokens, first - start, itl, end - start, True)


@dataclass(frozen=True, slots=True)
class EngineEndpoint:
    name: str
    url: str


class ClosedLoopLoad:
    """`concurrency` clients, each sending one request after the other to the engine with the fewest of this
    load's requests in flight, until `stop()` (or `max_requests`). Engines come from `endpoints()` per request, so
    a newly ready engine takes traffic at once."""

    def __init__(
        self,
        endpoints: Callable[[], Sequence[EngineEndpoint]],
        model: str,
        concurrency: int,
        prompt_tokens: int,
        max_tokens: int,
        vocab_size: int,
        seed: int = 0,
        max_requests: int = 100_000,
    ) -> None:
        self._endpoints = endpoints
        self.model = model
        self.concurrency = concurrency
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.vocab_size = vocab_size
        self.rng = random.Random(seed)
        self.max_requests = max_requests
        self.results: list[RequestResult] = []
        self.in_flight: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.origin_s = time.monotonic()

    def served_by(self) -> dict[str, int]:
        """Successful requests per engine so far."""
        out: dict[str, int] = {}
        for r in self.results:
            if r.ok:
                out[r.engine] = out.get(r.engine, 0) + 1
        return out

    def _pick(self) -> EngineEndpoint | None:
        eps = list(self._endpoints())
        if not eps:
            return None
        return min(eps, key=lambda e: (self.in_flight.get(e.name, 0), e.name))

    async def _client(self) -> None:
        assert self._session is not None
        while not self._stop.is_set() and self._sent < self.max_requests:
            ep = self._pick()
            if ep is None:
                await asyncio.sleep(0.2)
                continue
            self._sent += 1
            self.in_flight[ep.name] = self.in_flight.get(ep.name, 0) + 1
            try:
                prompt = prompt_ids(self.prompt_tokens, self.rng, self.vocab_size)
                result = await stream_completion(
                    self._session, ep.name, ep.url, self.model, prompt, self.max_tokens, self.origin_s
                )
            finally:
                self.in_flight[ep.name] -= 1
            self.results.append(result)
            if not result.ok:
                await asyncio.sleep(0.2)  # an engine being stopped: do not spin

    def start(self) -> None:
        """Start the clients on the running event loop."""
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._tasks = [asyncio.create_task(self._client(), name=f"vllm-load-{i}") for i in range(self.concurrency)]

    async def stop(self, drain_s: float = 120.0) -> None:
        """Stop sending; wait up to `drain_s` for requests in flight, then cancel them."""
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=drain_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
