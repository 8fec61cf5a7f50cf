"""A Ray Serve deployment whose replicas each run a REAL vLLM engine (`ray.serve.llm` needs vLLM importable in
Ray's own Python, and vLLM lives in its own venv here, so each replica owns one engine process and proxies to
it). Does process and network I/O inside the replica.

`VllmProxyReplica` starts its engine in its constructor (the replica is not RUNNING until the engine is ready: a
real start-up delay), proxies `{"prompt": [token ids], "max_tokens": n}` to the engine's `/v1/completions`
(ignore_eos), and reports the engine's own `vllm:kv_cache_usage_perc` and `vllm:num_requests_waiting` through
`record_autoscaling_stats()` (`SaturationStatsMixin`), which wva-ray's Serve policy reads in mode
`replica_stats`. A background thread refreshes the two gauges every `poll_s`, so the stats call never blocks.
The engine is stopped when the replica shuts down (and by the engine module's atexit hook otherwise).

`EngineClaims` (a named actor) lets the first replica adopt an engine that is already running (a warm
deployment) instead of starting one; every later replica starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import ray
from prometheus_client.parser import text_string_to_metric_families
from ray import serve

from wva_ray.serve.mixin import SaturationSample, SaturationStatsMixin
from wva_ray.testing.vllm_engine import EngineEnv, EngineSpec, VllmEngine

CLAIMS_ACTOR = "wva-vllm-engine-claims"
CONNECT_ATTEMPTS = 3


@ray.remote(num_cpus=0)
class EngineClaims:
    """URLs of running engines that replicas may adopt, each handed out once."""

    def __init__(self, urls: list[str]) -> None:
        self._urls = list(urls)

    def claim(self) -> str | None:
        return self._urls.pop(0) if self._urls else None


def read_saturation(metrics_url: str) -> SaturationSample | None:
    try:
        with urllib.request.urlopen(metrics_url, timeout=2.0) as resp:
            text = resp.read().decode("utf-8")
    except OSError:
        return None
    kv = waiting = None
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "vllm:kv_cache_usage_perc":
                kv = s.value
            elif s.name == "vllm:num_requests_waiting":
                waiting = s.value
    return SaturationSample(kv, waiting) if kv is not None and waiting is not None else None


class VllmProxyReplica(SaturationStatsMixin):
    """One Serve replica = one real vLLM engine (see the module docstring)."""

    def __init__(self, spec: EngineSpec, claims_actor: str | None = None, poll_s: float = 0.5) -> None:
        adopted: str | None = None
        if claims_actor:
            with contextlib.suppress(ValueError):
                claimed: Any = ray.get(ray.get_actor(claims_actor, namespace="wva").claim.remote())
                adopted = str(claimed) if claimed else None
        self.engine: VllmEngine | None = None
        if adopted is None:
            name = f"serve-{serve.get_replica_context().replica_id.unique_id}"
            self.engine = VllmEngine(EngineEnv.locate(), spec, name, Path(tempfile.mkdtemp(prefix="wva-serve-vllm-")))
            self.engine.start()
            self.engine.wait_ready(600.0)
            adopted = self.engine.url
        self.url: str = adopted
        self.model = spec.served_model_name
        self._sample: SaturationSample | None = None
        self._stop = threading.Event()
        self._poll_s = poll_s
        self._poller = threading.Thread(target=self._poll, name="vllm-stats", daemon=True)
        self._poller.start()
        self._session: aiohttp.ClientSession | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._sample = read_saturation(f"{self.url}/metrics")
            self._stop.wait(self._poll_s)

    def saturation_sample(self) -> SaturationSample | None:
        return self._sample

    async def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            # force_close: one connection per request. A pooled keep-alive connection that the engine's HTTP server
            # closes after its idle timeout races with its reuse ("Can not write request body"), which happened in CI
            # when the second replica took part of the load and some pooled connections went idle.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
        body = {
            "model": self.model,
            "prompt": request["prompt"],
            "max_tokens": int(request["max_tokens"]),
            "min_tokens": int(request["max_tokens"]),
            "ignore_eos": True,
            "temperature": 0.0,
        }
        data = await self._complete(body)
        pgid = self.engine.pid if self.engine is not None else None  # its own process group (start_new_session)
        return {"engine": self.url, "pgid": pgid, "usage": data.get("usage", {})}

    async def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the engine; a connection-level failure (the request never reached the engine's handler, or the
        connection dropped before an answer) is retried up to `CONNECT_ATTEMPTS` times, as a gateway retries a
        connection error. An HTTP error answer is never retried."""
        assert self._session is not None
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                async with self._session.post(f"{self.url}/v1/completions", json=body) as resp:
                    data: dict[str, Any] = await resp.json()
                    if resp.status != 200:
                        raise RuntimeError(f"engine {self.url}: HTTP {resp.status}: {str(data)[:200]}")
                    return data
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                if attempt == CONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def __del__(self) -> None:
        self._stop.set()
        if self.engine is not None:
            self.engine.stop()
