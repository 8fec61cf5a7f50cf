"""The demo's embedded cluster: an in-memory API server whose scale targets own emulated vLLM pods, a trace
replayer that sends requests to them, and a recorder. Does network I/O (the emulator's HTTP servers) and must
live inside a running event loop (a Ray async actor, or the `--no-ray` driver's loop).

Each variant is a `MemoryCluster` scale target; creating a pod starts an emulated vLLM server (`sim.emulator`)
with the variant's serving profile and a start-up delay; deleting one takes it out of routing at once and stops
it when idle or after its termination grace period (requests still in flight then fail, as on a real pod).
Requests of a model go to its least-loaded ready pod (fewest waiting, then lowest KV usage, like a queue- and
KV-aware gateway); a request arriving when no pod is ready waits for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot, SnapshotConfig
from wva_ray.core.ports import ModelGroupRef
from wva_ray.sim.emulator.server import EmulatedPod, Emulator, PodSpec
from wva_ray.sim.model.profiles import Profile
from wva_ray.testing.memory_cluster import MemoryCluster, MemoryPod, MemoryTarget, VariantSpec

SAMPLE_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class DemoVariant:
    """One variant of the demo: a VA + target named `name`, served with `profile`."""

    name: str
    model_id: str
    profile: Profile
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class DemoRequest:
    at_s: float  # real seconds from the replay start
    model_id: str
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class PodEndpoint:
    namespace: str
    model_id: str
    pod: str
    url: str


@dataclass(frozen=True, slots=True)
class RequestRecord:
    model_id: str
    variant: str
    ok: bool
    ttft_s: float
    itl_s: float
    e2e_s: float
    wait_s: float  # time spent waiting for a ready pod before reaching one
    arrived_s: float  # wall seconds from the replay start to the request's arrival


@dataclass
class VariantSample:
    t_s: float
    current: int
    ready: int
    desired: int | None
    kv: float
    queue: float
    running: float


@dataclass
class _Stats:
    samples: dict[str, list[VariantSample]] = field(default_factory=lambda: defaultdict(list))
    arrivals: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    records: list[RequestRecord] = field(default_factory=list)
    gpu_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class DemoCluster(MemoryCluster):
    """MemoryCluster + emulator pods + trace replay + recording (see the module docstring)."""

    def __init__(
        self,
        variants: Sequence[DemoVariant],
        startup_scale: float,
        grace_s: float = 30.0,
        namespace: str = "demo",
        config: SnapshotConfig | None = None,
    ) -> None:
        super().__init__(time.monotonic, config=config)
        self.namespace = namespace
        self.variants = {v.name: v for v in variants}
        self.startup_scale = startup_scale
        self.grace_s = grace_s
        self._terminating: dict[str, str] = {}  # draining pod -> its target
        self.emulator = Emulator()
        self._starting: dict[str, asyncio.Task[EmulatedPod | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stats = _Stats()
        self.last_decisions: dict[str, Decision] = {}
        self.replay_started_s: float | None = None
        self.replay_done = False
        self._ready_event = asyncio.Event()
        self._last_sample_s: float | None = None
        self._in_flight: dict[object, tuple[DemoRequest, float, float]] = {}  # request, monotonic start, arrived_s

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def setup(self) -> None:
        """Create every variant (its first pods start ready, as a warm deployment)."""
        for v in self.variants.values():
            self.add_variant(
                VariantSpec(
                    name=v.name,
                    model_id=v.model_id,
                    accelerator=v.profile.accelerator,
                    cost=round(10.0 * v.profile.cost_per_replica_hour, 2),
                    replicas=v.replicas,
                    gpus_per_replica=v.profile.gpus,
                    startup_s=v.profile.startup_s * self.startup_scale,
                    namespace=self.namespace,
                )
            )
        await asyncio.gather(*self._starting.values())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*self._starting.values(), return_exceptions=True)
        await self.emulator.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- pods ----------------------------------------------------------------------------------------
    def on_pod_created(self, target: MemoryTarget, pod: MemoryPod) -> None:
        variant = self.variants[target.name]
        delay = max(0.0, pod.ready_s - pod.created_s)
        spec = PodSpec(
            name=pod.name,
            model=variant.model_id,
            namespace=target.namespace,
            profile=variant.profile,
            startup_delay_s=delay,
        )
        self._starting[pod.name] = asyncio.get_running_loop().create_task(self._start(spec))

    async def _start(self, spec: PodSpec) -> EmulatedPod | None:
        try:
            return await self.emulator.start_pod(spec)
        except (OSError, ValueError):
            return None

    def on_pod_deleted(self, target: MemoryTarget, pod: MemoryPod) -> None:
        self._terminating[pod.name] = target.name
        self._spawn(self._stop(pod.name))

    async def _stop(self, name: str) -> None:
        """Terminate like a Kubernetes pod: out of routing at once, stopped when idle or after the grace period."""
        starting = self._starting.pop(name, None)
        live = await starting if starting is not None else self.emulator.pods.get(name)
        deadline = time.monotonic() + self.grace_s
        while live is not None and live.model is not None and live.model.load > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        with contextlib.suppress(KeyError):
            await self.emulator.stop_pod(name)
        self._terminating.pop(name, None)

    def pod_ready(self, target: MemoryTarget, pod: MemoryPod) -> bool:
        live = self.emulator.pods.get(pod.name)
        return live is not None and live.ready()

    def _ready_pods(self, model_id: str) -> list[tuple[str, EmulatedPod]]:
        out = []
        for target in self.targets.values():
            variant = self.variants.get(target.name)
            if variant is None or variant.model_id != model_id:
                continue
            for p in target.pods:
                live = self.emulator.pods.get(p.name)
                if live is not None and live.ready() and p.name not in self._terminating:
                    out.append((target.name, live))
        return out

    # ---- API used by the runtime (async: pods start and stop on this loop) ----------------------------
    async def observe_async(self, now: datetime) -> Snapshot:
        return self.observe(now)

    async def write_status_async(self, decisions: Sequence[Decision], now: datetime, direct: bool = True) -> int:
        for d in decisions:
            self.last_decisions[d.key] = d
        return self.write_status(decisions, now, direct)

    async def pod_endpoints(self, groups: Sequence[ModelGroupRef]) -> list[PodEndpoint]:
        """Scrape targets: every created pod of the groups' variants (a loading pod answers 503)."""
        wanted = {(g.namespace, g.model_id) for g in groups}
        out = []
        for target in self.targets.values():
            variant = self.variants[target.name]
            if (target.namespace, variant.model_id) not in wanted:
                continue
            for p in target.pods:
                live = self.emulator.pods.get(p.name)
                if live is not None:
                    out.append(PodEndpoint(target.namespace, variant.model_id, p.name, live.url))
        return out

    # ---- load ----------------------------------------------------------------------------------------
    async def replay(self, requests: Sequence[DemoRequest]) -> None:
        """Send every request at its time (real seconds from now); returns when all have been sent."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.replay_started_s = time.monotonic()
        for req in requests:
            delay = start + req.at_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.stats.arrivals[req.model_id].append((time.monotonic() - self.replay_started_s, 1))
            self._spawn(self._serve(req))
        self.replay_done = True

    async def _serve(self, req: DemoRequest) -> None:
        t0 = time.monotonic()
        arrived = t0 - (self.replay_started_s or t0)
        key = object()
        self._in_flight[key] = (req, t0, arrived)
        try:
            await self._serve_now(req, t0, arrived)
        finally:
            del self._in_flight[key]

    async def _serve_now(self, req: DemoRequest, t0: float, arrived: float) -> None:
        pods = self._ready_pods(req.model_id)
        while not pods:
            await asyncio.sleep(0.05)
            pods = self._ready_pods(req.model_id)
        variant, pod = min(pods, key=lambda vp: _load(vp[1]))
        waited = time.monotonic() - t0
        try:
            done = await pod.complete(req.prompt_tokens, req.output_tokens)
        except (ConnectionAbortedError, RuntimeError):
            self.stats.records.append(RequestRecord(req.model_id, variant, False, 0.0, 0.0, 0.0, waited, arrived))
            return
        self.stats.records.append(
            RequestRecord(
                req.model_id, variant, True, done.ttft_s + waited, done.itl_s, done.e2e_s + waited, waited, arrived
            )
        )

    # ---- recording -----------------------------------------------------------------------------------
    def sample(self) -> None:
        """Record one sample per variant and integrate GPU-seconds (every created pod holds its GPUs)."""
        if self.replay_started_s is None:
            return
        now = time.monotonic()
        t = now - self.replay_started_s
        dt = 0.0 if self._last_sample_s is None else now - self._last_sample_s
        self._last_sample_s = now
        for target in self.targets.values():
            kvs, queue, running, ready = [], 0.0, 0.0, 0
            for p in target.pods:
                live = self.emulator.pods.get(p.name)
                if live is None or not live.ready() or live.model is None:
                    continue
                st = live.model.state()
                ready += 1
                kvs.append(st.kv_usage_ratio)
                queue += st.waiting
                running += st.running
            self.stats.samples[target.name].append(
                VariantSample(
                    t,
                    len(target.pods),
                    ready,
                    self.desired(target.namespace, target.name),
                    sum(kvs) / len(kvs) if kvs else 0.0,
                    queue,
                    running,
                )
            )
            draining = sum(1 for t in self._terminating.values() if t == target.name)
            held = len(target.pods) + draining  # a draining pod still holds its GPUs
            self.stats.gpu_seconds[target.name] += dt * held * target.gpus_per_replica

    async def sampler(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY_S)

    def start_sampler(self) -> None:
        self._spawn(self.sampler())

    # ---- read-outs for the driver --------------------------------------------------------------------
    async def start(self, requests: Sequence[DemoRequest]) -> None:
        """Start replaying `requests` and sampling (returns at once)."""
        self.replay_started_s = time.monotonic()
        self._spawn(self.replay(requests))
        self.start_sampler()

    async def rows(self) -> list[dict[str, Any]]:
        return self.table_rows()

    async def export_async(self) -> dict[str, Any]:
        self.sample()
        return self.export()

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per variant for the live table."""
        rows = []
        window_s = 10.0
        now_t = 0.0 if self.replay_started_s is None else time.monotonic() - self.replay_started_s
        for name, v in self.variants.items():
            samples = self.stats.samples.get(name) or []
            last = samples[-1] if samples else None
            arrivals = self.stats.arrivals.get(v.model_id, [])
            recent = sum(1 for t, _ in _tail(arrivals, now_t - window_s))
            d = self.last_decisions.get(f"{self.namespace}/{name}")
            rows.append(
                {
                    "model": v.model_id,
                    "variant": name,
                    "accelerator": v.profile.accelerator,
                    "load_rps": recent / window_s,
                    "kv": last.kv if last else 0.0,
                    "queue": last.queue if last else 0.0,
                    "current": last.current if last else 0,
                    "ready": last.ready if last else 0,
                    "desired": d.desired_replicas if d else None,
                    "reason": d.reason if d else "",
                }
            )
        return rows

    def export(self) -> dict[str, Any]:
        """Everything the report needs (plain data)."""
        return {
            "samples": {k: [dataclasses.asdict(s) for s in v] for k, v in self.stats.samples.items()},
            "arrivals": {k: [t for t, _ in v] for k, v in self.stats.arrivals.items()},
            "records": [dataclasses.asdict(r) for r in self.stats.records],
            "gpu_seconds": dict(self.stats.gpu_seconds),
            "scale_writes": self.scale_writes,
            "writes": [{"key": w.key, "desired": w.desired} for w in self.writes],
            "status_writes": len(self.writes),
            "variants": {
                n: {"model": v.model_id, "accelerator": v.profile.accelerator, "gpus": v.profile.gpus}
                for n, v in self.variants.items()
            },
            "in_flight": len(self._tasks),
            "in_flight_requests": self.in_flight_requests(),
        }

    def in_flight_requests(self) -> list[dict[str, Any]]:
        """Requests sent and not finished yet: model, arrival (s from the replay start), output length and how long
        they have been in flight (wall s)."""
        now = time.monotonic()
        return [
            {"model_id": r.model_id, "arrived_s": arrived, "output_tokens": r.output_tokens, "elapsed_s": now - t0}
            for r, t0, arrived in self._in_flight.values()
        ]


def _load(pod: EmulatedPod) -> tuple[int, float]:
    """Queue-then-KV scoring (like a queue- and KV-aware gateway): fewest waiting, then lowest KV usage."""
    if pod.model is None:
        return (0, 0.0)
    st = pod.model.state()
    return (st.waiting, st.kv_usage_ratio)


def _tail(items: list[tuple[float, int]], since: float) -> deque[tuple[float, int]]:
    out: deque[tuple[float, int]] = deque()
    for item in reversed(items):
        if item[0] < since:
            break
        out.appendleft(item)
    return out
