"""Load generator: replays a `Trace` (a public trace file via `wva_ray.sim.model.traces.load_trace`, or a synthetic
one via `synthetic_trace`), time-scaled, against OpenAI-compatible `/v1/completions` endpoints over HTTP, and
records TTFT, ITL and end-to-end latency per request. Does network I/O (aiohttp).

Bounded: at most `max_requests` requests, dispatching stops after `max_duration_s` wall seconds, and requests
still in flight `drain_timeout_s` later are cancelled (recorded as errors).

Latencies: `e2e_s` is measured by the client (send to full response). Requests are non-streaming, so TTFT and
ITL come from the server's `wva_timing` extension (the emulator's modelled values): `ttft_s` = server TTFT plus
the client-side overhead (client e2e - server e2e), `itl_s` = server ITL. Against a server without
`wva_timing`, both are None.

Endpoints may change during a run (pods scaled up and down): pass a callable returning the current base URLs.
Routing picks the endpoint with the fewest requests in flight from this generator (ties: round robin).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import numpy as np

from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, Trace, synthesize


@dataclass(frozen=True, slots=True)
class LoadSpec:
    model: str
    time_scale: float = 1.0  # wall seconds per trace second (0.1 = ten times faster)
    max_requests: int = 10_000
    max_duration_s: float = 300.0
    request_timeout_s: float = 120.0
    drain_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")
        if self.max_requests < 0:
            raise ValueError(f"max_requests must be >= 0, got {self.max_requests}")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    index: int
    endpoint: str
    scheduled_s: float  # wall seconds after the start when it was due
    sent_s: float  # wall seconds after the start when it was sent
    prompt_tokens: int
    output_tokens: int
    status: int  # HTTP status; 0 = transport error, cancelled or no endpoint
    e2e_s: float | None
    ttft_s: float | None
    itl_s: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None


def summarize(values: Sequence[float]) -> LatencySummary:
    if not values:
        return LatencySummary(0, None, None, None, None)
    arr = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = (float(x) for x in np.percentile(arr, [50, 90, 99]))
    return LatencySummary(len(values), p50, p90, p99, float(arr.mean()))


@dataclass(frozen=True, slots=True)
class LoadResult:
    records: tuple[RequestRecord, ...]
    wall_s: float
    skipped: int  # trace requests not sent because of the bounds

    def summary(self) -> dict[str, Any]:
        ok = [r for r in self.records if r.ok]
        return {
            "sent": len(self.records),
            "ok": len(ok),
            "errors": len(self.records) - len(ok),
            "skipped": self.skipped,
            "wall_s": self.wall_s,
            "e2e_s": summarize([r.e2e_s for r in ok if r.e2e_s is not None]),
            "ttft_s": summarize([r.ttft_s for r in ok if r.ttft_s is not None]),
            "itl_s": summarize([r.itl_s for r in ok if r.itl_s is not None]),
        }


def synthetic_trace(
    rate_per_s: float,
    duration_s: float,
    tokens: str = "azure-conv",
    arrivals: Literal["poisson", "gamma"] = "poisson",
    cv: float = 1.0,
    seed: int = 0,
) -> Trace:
    """A constant-rate synthetic trace with lognormal token lengths from a preset of `traces.TOKEN_PRESETS`."""
    if tokens not in TOKEN_PRESETS:
        raise ValueError(f"unknown token preset {tokens!r}; known: {sorted(TOKEN_PRESETS)}")
    shape = RateShape(points=[(0.0, rate_per_s), (duration_s, rate_per_s)])
    return synthesize(shape, duration_s, TOKEN_PRESETS[tokens], arrivals=arrivals, cv=cv, seed=seed)


@dataclass
class _Router:
    endpoints: Callable[[], Sequence[str]]
    in_flight: dict[str, int] = field(default_factory=dict)
    turn: int = 0

    def pick(self) -> str | None:
        current = list(self.endpoints())
        if not current:
            return None
        self.turn += 1
        order = current[self.turn % len(current) :] + current[: self.turn % len(current)]
        return min(order, key=lambda e: self.in_flight.get(e, 0))


async def replay(
    trace: Trace,
    endpoints: Sequence[str] | Callable[[], Sequence[str]],
    spec: LoadSpec,
    session: aiohttp.ClientSession | None = None,
) -> LoadResult:
    """Send the trace's requests at their (scaled) arrival times; return one record per request sent."""
    get_endpoints = endpoints if callable(endpoints) else (lambda: list(endpoints))
    router = _Router(get_endpoints)
    own_session = session is None
    http = session or aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=spec.request_timeout_s)
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    records: list[RequestRecord] = []
    tasks: list[asyncio.Task[None]] = []

    async def send(i: int, scheduled: float, prompt: int, output: int) -> None:
        endpoint = router.pick()
        sent = loop.time() - start
        if endpoint is None:
            records.append(RequestRecord(i, "", scheduled, sent, prompt, output, 0, None, None, None, "no endpoint"))
            return
        router.in_flight[endpoint] = router.in_flight.get(endpoint, 0) + 1
        body = {"model": spec.model, "prompt_tokens": prompt, "max_tokens": output, "prompt": "x"}
        t0 = time.monotonic()
        try:
            async with http.post(endpoint.rstrip("/") + "/v1/completions", json=body) as resp:
                status = resp.status
                data = await resp.json(content_type=None) if status == 200 else None
            e2e = time.monotonic() - t0
            timing = data.get("wva_timing") if isinstance(data, dict) else None
            ttft = itl = None
            if isinstance(timing, dict):
                overhead = max(0.0, e2e - float(timing.get("e2e_s", e2e)))
                ttft = float(timing["ttft_s"]) + overhead
                itl = float(timing["itl_s"])
            err = None if status == 200 else f"HTTP {status}"
            records.append(RequestRecord(i, endpoint, scheduled, sent, prompt, output, status, e2e, ttft, itl, err))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            records.append(
                RequestRecord(i, endpoint, scheduled, sent, prompt, output, 0, None, None, None, type(exc).__name__)
            )
        except asyncio.CancelledError:
            records.append(
                RequestRecord(i, endpoint, scheduled, sent, prompt, output, 0, None, None, None, "cancelled")
            )
            raise
        finally:
            router.in_flight[endpoint] -= 1

    n = min(len(trace), spec.max_requests)
    sent_count = 0
    try:
        for i in range(n):
            due = float(trace.arrival_s[i]) * spec.time_scale
            if due > spec.max_duration_s:
                break
            delay = due - (loop.time() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(i, due, int(trace.prompt_tokens[i]), int(trace.output_tokens[i]))))
            sent_count += 1
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=spec.drain_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        if own_session:
            await http.close()
    records.sort(key=lambda r: r.index)
    return LoadResult(tuple(records), loop.time() - start, len(trace) - sent_count)
