"""Open-loop request load spread over a changing set of endpoints, like clients behind a Service (test rig;
network I/O on its own thread and event loop).

Requests arrive as a Poisson process at `rate_rps` (set it at any time: the ramp of a closed-loop test); each
goes to the endpoint with the fewest requests in flight among `endpoints()` (re-read at every arrival, so new
pods get traffic as soon as they are Ready and deleted pods stop getting it). Every request is an OpenAI
completion with fixed prompt and output lengths. Counts of sent / ok / failed requests are kept.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence

import aiohttp


class PodLoad:
    def __init__(
        self,
        endpoints: Callable[[], Sequence[str]],
        model: str,
        prompt_tokens: int = 256,
        output_tokens: int = 128,
        seed: int = 7,
        timeout_s: float = 60.0,
    ) -> None:
        self.endpoints = endpoints
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.timeout_s = timeout_s
        self.rate_rps = 0.0
        self.counts: Counter[str] = Counter()
        self._inflight: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pod-load", daemon=True)
        self._task: concurrent.futures.Future[None] | None = None

    def start(self) -> PodLoad:
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._arrivals(), self._loop)
        return self

    def set_rate(self, rate_rps: float) -> None:
        self.rate_rps = max(0.0, rate_rps)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(Exception):
                self._task.result(timeout=5)

        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_drain(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def inflight(self) -> int:
        return sum(self._inflight.values())

    async def _arrivals(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            pending: set[asyncio.Task[None]] = set()
            while True:
                rate = self.rate_rps
                if rate <= 0:
                    await asyncio.sleep(0.2)
                    continue
                await asyncio.sleep(self._rng.expovariate(rate))
                urls = list(self.endpoints())
                if not urls:
                    self.counts["no_endpoint"] += 1
                    continue
                url = min(urls, key=lambda u: (self._inflight[u], self._rng.random()))
                task = asyncio.create_task(self._one(session, url))
                pending.add(task)
                task.add_done_callback(pending.discard)

    async def _one(self, session: aiohttp.ClientSession, url: str) -> None:
        self.counts["sent"] += 1
        self._inflight[url] += 1
        body = {"model": self.model, "prompt_tokens": self.prompt_tokens, "max_tokens": self.output_tokens}
        try:
            async with session.post(f"{url}/v1/completions", json=body) as resp:
                await resp.read()
                self.counts["ok" if resp.status == 200 else f"http_{resp.status}"] += 1
        except (aiohttp.ClientError, TimeoutError):
            self.counts["failed"] += 1
        finally:
            self._inflight[url] -= 1
            if self._inflight[url] <= 0:
                del self._inflight[url]
