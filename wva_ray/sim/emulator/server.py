"""Emulated vLLM pods: many pods in one process, each on its own loopback port. Does network I/O (aiohttp).

Each pod serves
- `GET /metrics`: vLLM's metric names, types, labels and buckets (`emulator_metrics`), always text format 0.0.4;
- `POST /v1/completions`: OpenAI-compatible, answered after the latency the replica model
  (`wva_ray.sim.model.replica.ReplicaModel`) gives the request under the pod's current load. Non-streaming; the
  response carries `usage` and, as an extension, `wva_timing` (`queue_s`, `ttft_s`, `itl_s`, `e2e_s` as modelled);
  `prompt_tokens` in the body (an extension) sets the prompt length, else it is the prompt's whitespace word count;
  the output length is `max_tokens` (as with `ignore_eos`);
- `GET /health` and `/health/ready`: 503 while the pod is "loading" (its start-up delay), then 200. During the
  delay `/metrics` and `/v1/completions` answer 503 too, as a vLLM pod that is not up yet has no metrics;
- `GET /v1/models`.

A pod without a profile is purely scripted (`Script`); a pod with a profile is driven by the replica model, and any
signal set in its `Script` overrides the model's value (e.g. a fixed KV usage).

Python API (use it inside a running event loop)::

    emu = Emulator()                       # nothing listens yet
    pod = await emu.start_pod(PodSpec(name="m1-a", model="m1", profile=get_profile("llama-3.1-8b/H100"),
                                      startup_delay_s=5.0))
    pod.url                                # "http://127.0.0.1:<port>"
    await emu.stop_pod("m1-a")             # closes its socket; open scrape connections get errors from now on
    await emu.close()                      # stops every pod

`Emulator.file_sd_targets()` gives the Prometheus `file_sd_configs` entries (labels `namespace`, `pod`) for the
live pods; `Emulator.scrape_targets()` the targets of the direct-scrape source (`wva_ray.adapters.scrape`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from wva_ray.adapters.scrape import ScrapeTarget
from wva_ray.sim.emulator.metrics import (
    EXPOSITION_CONTENT_TYPE,
    PodView,
    Script,
    ServedTotals,
    scripted_view,
)
from wva_ray.sim.emulator.render import ExpositionRenderer
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import Completed, ReplicaModel

LOOPBACK = "127.0.0.1"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PodSpec:
    """One emulated pod. `port` 0 picks a free port. `profile` None = purely scripted."""

    name: str
    model: str
    namespace: str = "default"
    port: int = 0
    profile: Profile | None = None
    script: Script = field(default_factory=Script)
    startup_delay_s: float = 0.0
    engine: str = "0"
    seed: int = 0


class EmulatedPod:
    """State of one pod: its replica model (if any), served totals and pending completions."""

    def __init__(self, spec: PodSpec, port: int, sock: socket.socket, started_s: float) -> None:
        self.spec = spec
        self.port = port
        self.sock = sock
        self.started_s = started_s
        self.created_wall_s = time.time()
        self.totals = ServedTotals()
        self.renderer = ExpositionRenderer(spec.model, spec.engine)
        self.model = ReplicaModel(spec.profile, seed=spec.seed, start_s=0.0) if spec.profile else None
        self._pending: dict[Hashable, asyncio.Future[Completed]] = {}
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self.stopped = False

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def elapsed_s(self) -> float:
        return asyncio.get_running_loop().time() - self.started_s

    def ready(self) -> bool:
        return not self.stopped and self.elapsed_s() >= self.spec.startup_delay_s

    # ---- replica model driving -------------------------------------------------------------------------
    def start_driver(self) -> None:
        if self.model is not None:
            self._driver = asyncio.create_task(self._drive(), name=f"emulator-pod-{self.spec.name}")

    async def _drive(self) -> None:
        model = self.model
        assert model is not None
        try:
            while not self.stopped:
                nxt = model.next_event_s()
                timeout = None if nxt is None else max(0.0, nxt - self.elapsed_s())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                self._advance()
        except Exception as exc:  # a model bug must fail the requests, not hang them
            _log.exception("emulated pod %s: replica model driver failed", self.spec.name)
            self.stopped = True  # a dead engine: the pod refuses requests from now on
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionAbortedError(f"pod {self.spec.name}: model failed: {exc}"))
            self._pending.clear()
            raise

    def _advance(self) -> None:
        if self.model is None:
            return
        for done in self.model.advance(self.elapsed_s()):
            self.totals.record(
                done.prompt_tokens, done.output_tokens, done.queue_s, done.ttft_s, done.itl_s, done.e2e_s
            )
            fut = self._pending.pop(done.request_id, None)
            if fut is not None and not fut.done():
                fut.set_result(done)

    async def complete(self, prompt_tokens: int, output_tokens: int) -> Completed:
        """Serve one request: queue it in the replica model (or the scripted latency) and wait for it."""
        now = self.elapsed_s()
        if self.model is None:
            s = self.spec.script
            e2e = s.ttft_s + s.itl_s * (output_tokens - 1)
            await asyncio.sleep(e2e)
            done = Completed(
                uuid.uuid4().hex, now, prompt_tokens, output_tokens, 0.0, s.ttft_s, s.itl_s, e2e, now + e2e
            )
            self.totals.record(prompt_tokens, output_tokens, 0.0, s.ttft_s, s.itl_s, e2e)
            return done
        rid = uuid.uuid4().hex
        fut: asyncio.Future[Completed] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self.model.submit(rid, prompt_tokens, output_tokens, now)
        self._wake.set()
        return await fut

    async def stop(self) -> None:
        self.stopped = True
        self._wake.set()
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionAbortedError(f"pod {self.spec.name} stopped"))
        self._pending.clear()

    # ---- exposition ------------------------------------------------------------------------------------
    def view(self) -> PodView:
        """What `/metrics` shows now (advances the replica model to now first)."""
        self._advance()
        t = self.elapsed_s()
        script = self.spec.script
        running = waiting = kv = 0.0
        blocks, block_size = script.num_gpu_blocks, script.block_size
        if self.model is not None:
            st = self.model.state()
            running, waiting, kv = float(st.running), float(st.waiting), st.kv_usage_ratio
            prof = self.model.profile
            blocks, block_size = prof.num_gpu_blocks, prof.block_size
        if script.num_requests_running is not None:
            running = script.num_requests_running.value(t)
        if script.num_requests_waiting is not None:
            waiting = script.num_requests_waiting.value(t)
        if script.kv_cache_usage is not None:
            kv = script.kv_cache_usage.value(t)
        prompt_total, gen_total, success, hist = scripted_view(self.totals, script, t)
        if self.model is not None:
            # The model counts generated tokens of running requests too (vLLM counts them per step).
            st = self.model.state()
            prompt_total += st.prompt_tokens_total - self.totals.prompt_tokens
            gen_total += st.generation_tokens_total - self.totals.generation_tokens
        return PodView(
            model_name=self.spec.model,
            engine=self.spec.engine,
            running=running,
            waiting=waiting,
            kv_usage_ratio=kv,
            prompt_tokens_total=prompt_total,
            generation_tokens_total=gen_total,
            success_by_reason=success,
            histograms=hist,
            num_gpu_blocks=blocks,
            block_size=block_size,
            created_s=self.created_wall_s,
        )


class Emulator:
    """Many emulated pods served by one aiohttp runner (one listening socket per pod)."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self._host = host
        self._pods: dict[str, EmulatedPod] = {}
        self._by_port: dict[int, EmulatedPod] = {}
        self._sites: dict[str, web.SockSite] = {}
        self._runner: web.AppRunner | None = None

    @property
    def pods(self) -> dict[str, EmulatedPod]:
        """Live pods by name (a copy)."""
        return dict(self._pods)

    async def _ensure_runner(self) -> web.AppRunner:
        if self._runner is None:
            app = web.Application()
            app.router.add_get("/metrics", self._metrics)
            app.router.add_get("/health", self._health)
            app.router.add_get("/health/ready", self._health)
            app.router.add_get("/v1/models", self._models)
            app.router.add_post("/v1/completions", self._completions)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            self._runner = runner
        return self._runner

    async def start_pod(self, spec: PodSpec) -> EmulatedPod:
        """Open the pod's socket and start serving; raises ValueError on a duplicate name, OSError if the port
        is taken."""
        if spec.name in self._pods:
            raise ValueError(f"pod {spec.name!r} already exists")
        runner = await self._ensure_runner()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, spec.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(f"pod {spec.name!r}: cannot listen on {self._host}:{spec.port}: {exc}") from exc
        port = int(sock.getsockname()[1])
        pod = EmulatedPod(spec, port, sock, asyncio.get_running_loop().time())
        site = web.SockSite(runner, sock)
        await site.start()
        self._pods[spec.name] = pod
        self._by_port[port] = pod
        self._sites[spec.name] = site
        pod.start_driver()
        return pod

    async def stop_pod(self, name: str) -> None:
        """Stop serving pod `name` (KeyError if unknown). Requests in flight fail."""
        pod = self._pods.pop(name)
        self._by_port.pop(pod.port, None)
        site = self._sites.pop(name)
        await pod.stop()
        await site.stop()
        pod.sock.close()

    async def close(self) -> None:
        for name in list(self._pods):
            await self.stop_pod(name)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def file_sd_targets(self) -> list[dict[str, Any]]:
        """Prometheus file_sd entries for the live pods (one target group per pod)."""
        return [
            {"targets": [f"{self._host}:{pod.port}"], "labels": {"namespace": pod.spec.namespace, "pod": name}}
            for name, pod in sorted(self._pods.items())
        ]

    def scrape_targets(self) -> list[ScrapeTarget]:
        """Targets for the direct-scrape metrics source (`wva_ray.adapters.scrape`) for the live pods."""
        return [ScrapeTarget(p.spec.namespace, name, p.spec.model, p.url) for name, p in sorted(self._pods.items())]

    # ---- handlers ---------------------------------------------------------------------------------------
    def _pod_for(self, request: web.Request) -> EmulatedPod:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        pod = self._by_port.get(int(sockname[1])) if sockname else None
        if pod is None or pod.stopped:
            # A stopped pod's kept-alive connections must not keep answering: drop the connection.
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable(text="pod stopped")
        return pod

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod_for(request)
        if not pod.ready():
            raise web.HTTPServiceUnavailable(text="loading")
        body = pod.renderer.render(pod.view())
        return web.Response(body=body, headers={"Content-Type": EXPOSITION_CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod_for(request)
        if not pod.ready():
            raise web.HTTPServiceUnavailable(text="loading")
        return web.Response(text="")

    async def _models(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod_for(request)
        return web.json_response(
            {"object": "list", "data": [{"id": pod.spec.model, "object": "model", "owned_by": "wva-ray-emulator"}]}
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod_for(request)
        if not pod.ready():
            raise web.HTTPServiceUnavailable(text="loading")
        try:
            body = await request.json()
            prompt_tokens, output_tokens = _request_lengths(body)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": {"message": str(exc), "type": "BadRequestError"}}, status=400)
        if body.get("model", pod.spec.model) != pod.spec.model:
            msg = f"The model `{body.get('model')}` does not exist."
            return web.json_response({"error": {"message": msg, "type": "NotFoundError"}}, status=404)
        try:
            done = await pod.complete(prompt_tokens, output_tokens)
        except ConnectionAbortedError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        return web.json_response(
            {
                "id": f"cmpl-{uuid.uuid4().hex}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": pod.spec.model,
                "choices": [{"index": 0, "text": " tok" * output_tokens, "finish_reason": "length", "logprobs": None}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": output_tokens,
                    "total_tokens": prompt_tokens + output_tokens,
                },
                "wva_timing": {
                    "queue_s": done.queue_s,
                    "ttft_s": done.ttft_s,
                    "itl_s": done.itl_s,
                    "e2e_s": done.e2e_s,
                },
            }
        )


def _request_lengths(body: Any) -> tuple[int, int]:
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    max_tokens = int(body.get("max_tokens", 16))
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if "prompt_tokens" in body:
        prompt_tokens = int(body["prompt_tokens"])
    else:
        prompt = body.get("prompt", "")
        texts = prompt if isinstance(prompt, list) else [prompt]
        prompt_tokens = sum(len(str(t).split()) for t in texts)
    if prompt_tokens < 0:
        raise ValueError(f"prompt_tokens must be >= 0, got {prompt_tokens}")
    return prompt_tokens, max_tokens
