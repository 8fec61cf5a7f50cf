"""`wva-ray demo --engine vllm`: the demo's closed loop on REAL vLLM engines instead of emulated ones. Does I/O
(engine processes, loopback HTTP, the terminal, files in the output directory).

Shorter than the emulated demo, so that it runs on this 2-core machine: one model (the tiny random Llama of
scripts/setup.d/40-vllm-engine.sh) with one variant `tiny-llama-cpu` of 1-2 engines (`testing.vllm_cluster`;
2 engines is what two cores hold), no Ray (the engines are local processes: the `--no-ray` cycle,
`CycleCore` + `LocalRuntime`), direct scrape of the engines' own `/metrics`. Phases:
1. warm-up: the first engine starts (real start-up, 40-150 s here) and serves as the variant's first pod;
2. load: `duration_s` wall seconds of the trace (arrival times divided by `speed`, token lengths scaled to the
   tiny model as `wva-ray calibrate` does, thinned/raised by the demo's rise-and-fall envelope), sent open-loop to
   the least-busy ready engine; queueing makes the controller scale to 2, which starts a real second engine;
3. cool-down: no load; up to `cooldown_s` for the controller to scale back to 1 (the second engine is stopped).
The summary (requests, TTFT/ITL percentiles, scaling timeline) goes to `DIR/summary.json`, the plot to
`DIR/demo.png`. A missing engine environment raises `EngineEnvError` naming the setup step before anything
starts; on any failure, Ctrl-C or SIGTERM every engine is stopped (and `vllm_engine`'s atexit hook is the last
resort).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from rich.console import Console

from wva_ray.demo.runner import envelope, resolve_trace
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.local import LocalRuntime
from wva_ray.sim.calibrate.replay import SequenceSpec, scaled_sequence
from wva_ray.sim.model.traces import load_trace
from wva_ray.sim.plotting import pyplot
from wva_ray.testing.memory_cluster import VariantSpec
from wva_ray.testing.vllm_calibrate import VOCAB_SIZE, read_gauges
from wva_ray.testing.vllm_cluster import VllmCluster, VllmScrapeSource, VllmWiring
from wva_ray.testing.vllm_engine import EngineEnv, EngineSpec, VllmEngine, VllmFleet
from wva_ray.testing.vllm_load import RequestResult, prompt_ids, stream_completion

NAMESPACE = "demo"
VARIANT = "tiny-llama-cpu"
SPEC = EngineSpec(max_num_seqs=8, num_gpu_blocks=128, block_size=32, max_model_len=1024)
INTERVAL_S = 5.0
READY_TIMEOUT_S = 420.0


@dataclass(frozen=True)
class VllmDemoOptions:
    duration_s: float = 100.0  # the load phase
    output: Path = Path("demo-output")
    trace: str = "azure_llm_2023_conv"
    speed: float = 2.0
    start_s: float = 600.0  # trace second where the replayed window starts
    cooldown_s: float = 150.0
    live: bool = True
    seed: int = 0
    shared_dir: Path | None = None


@dataclass
class _Run:
    t0: float = field(default_factory=time.monotonic)
    samples: list[dict[str, float]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    results: list[RequestResult] = field(default_factory=list)
    phase: str = "warm-up"

    def now(self) -> float:
        return time.monotonic() - self.t0


def demo_requests(options: VllmDemoOptions, trace_path: Path) -> list[tuple[float, int, int]]:
    """(wall seconds, prompt, output) of the load phase: the calibration's scaling, then the envelope (a kept
    request is sent once per whole unit of the envelope's value and once more with its fractional part)."""
    seq = SequenceSpec(start_s=options.start_s, duration_s=options.duration_s, speed=options.speed,
                       prompt_scale=0.125, output_scale=0.25, max_prompt=600, max_output=256)  # fmt: skip
    rng = random.Random(options.seed)
    out = []
    for r in scaled_sequence(load_trace(trace_path), seq):
        level = envelope(r.at_s / options.duration_s)
        copies = int(level) + (1 if rng.random() < level - int(level) else 0)
        out += [(r.at_s + 0.01 * k, r.prompt_tokens, r.output_tokens) for k in range(copies)]
    return sorted(out)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (in the main thread), so the cleanup below runs for it too."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_vllm_demo(
    options: VllmDemoOptions,
    console: Console | None = None,
    fleet: VllmFleet | None = None,
    warm: VllmEngine | None = None,
) -> dict[str, Any]:
    """Run the real-engine demo and return its summary (also written to `options.output`). `fleet` and `warm`
    (a ready engine of it): run on an existing fleet (tests share one engine; the fleet's owner closes it, the
    demo stops only the engines it started)."""
    console = console or Console()
    env = EngineEnv.locate()  # EngineEnvError names the setup step; nothing has started yet
    trace_path = resolve_trace(options.trace, options.shared_dir)
    requests = demo_requests(options, trace_path)
    options.output.mkdir(parents=True, exist_ok=True)
    console.print(
        f"[bold]wva-ray demo --engine vllm[/bold]: trace {trace_path.name} from second {options.start_s:.0f}, "
        f"speed x{options.speed:g}, load {options.duration_s:.0f} s ({len(requests)} requests), cool-down up to "
        f"{options.cooldown_s:.0f} s; 1-2 real engines, interval {INTERVAL_S:.0f} s, no Ray"
    )
    owned = fleet is None
    if fleet is None:
        workdir = Path(tempfile.mkdtemp(prefix="wva-demo-vllm-"))
        fleet = VllmFleet(env, SPEC, workdir, target=VARIANT, namespace=NAMESPACE)
    run = _Run()
    try:
        with _sigterm_as_interrupt():
            first = warm
            if first is None:
                first = fleet.start_engine(f"{VARIANT}-0")
                console.print(f"starting the first engine (log {first.log_path}) ...")
                first.wait_ready(READY_TIMEOUT_S)
                console.print(f"engine ready after {first.startup_s:.0f} s")
            variant = VariantSpec(VARIANT, fleet.spec.served_model_name, "cpu", replicas=1, namespace=NAMESPACE,
                                  min_replicas=1, max_replicas=2)  # fmt: skip
            cluster = VllmCluster(fleet, variant, adopt=[first])
            try:
                asyncio.run(_loop(cluster, requests, options, run, console))
            finally:
                cluster.close()
    finally:
        if owned:
            fleet.close()
    summary = _summary(run, options, trace_path, len(requests), fleet.spec)
    path = options.output / "summary.json"
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    plot = _plot(run, options.output / "demo.png")
    r = summary["requests"]
    console.print(
        f"\n[bold]summary[/bold]: {r['completed']} completed, {r['failed']} failed; TTFT p50/p95 "
        f"{r['ttft_p50_s']:.3f}/{r['ttft_p95_s']:.3f} s; scale-ups {summary['scaling']['up']}, "
        f"scale-downs {summary['scaling']['down']}; max ready engines {summary['scaling']['max_ready']}\n"
        f"written: {path} and {plot}"
    )
    return summary


async def _loop(
    cluster: VllmCluster, requests: list[tuple[float, int, int]], options: VllmDemoOptions, run: _Run, console: Console
) -> None:
    source = VllmScrapeSource(cluster, window_s=15.0)
    wiring = VllmWiring(cluster, source)
    core = CycleCore(wiring.cluster_view(), wiring.publishers(), 1, wiring.clock())
    runtime = LocalRuntime(core, wiring.metrics_source(), interval_s=INTERVAL_S, deadline_s=10.0)
    key = f"{NAMESPACE}/{VARIANT}"
    run.t0 = time.monotonic()  # times in the summary: seconds since the load started

    def on_report(report: CycleReport) -> None:
        for d in report.plan.decisions:
            run.timeline.append({"t_s": round(run.now(), 1), "phase": run.phase, "current": d.current_replicas,
                                 "desired": d.desired_replicas, "ready": len(cluster.ready_pods()),
                                 "reason": d.reason})  # fmt: skip
            if options.live:
                console.print(
                    f"t={run.now():6.1f}s {run.phase:9s} current={d.current_replicas} desired={d.desired_replicas} "
                    f"ready={len(cluster.ready_pods())} {d.reason[:60]}"
                )

    async def scrape_and_sample(stop: asyncio.Event, session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await source.scrape_once()
            waiting = running = 0.0
            for engine in cluster.ready_pods().values():
                with contextlib.suppress(Exception):
                    r, w, _, _ = await read_gauges(session, engine)
                    running += r
                    waiting += w
            target = cluster.targets[key]
            sample = {"t_s": run.now(), "desired": float(target.spec_replicas), "pods": float(len(target.pods))}
            sample |= {"ready": float(len(cluster.ready_pods())), "waiting": waiting, "running": running}
            run.samples.append(sample)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def send(session: aiohttp.ClientSession, origin: float, at_s: float, prompt: list[int], out: int) -> None:
        await asyncio.sleep(max(0.0, origin + at_s - time.monotonic()))
        ready = cluster.ready_pods()
        while not ready:
            await asyncio.sleep(0.1)
            ready = cluster.ready_pods()
        pod = min(ready, key=lambda p: (in_flight.get(p, 0), p))
        in_flight[pod] = in_flight.get(pod, 0) + 1
        try:
            res = await stream_completion(session, pod, ready[pod].url, model, prompt, out, run.t0)
        finally:
            in_flight[pod] -= 1
        run.results.append(res)

    in_flight: dict[str, int] = {}
    model = cluster.fleet.spec.served_model_name
    rng = random.Random(options.seed)
    stop = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [
            asyncio.create_task(scrape_and_sample(stop, session)),
            asyncio.create_task(runtime.run(stop, on_report)),
        ]
        senders: list[asyncio.Task[None]] = []
        try:
            run.phase = "load"
            origin = time.monotonic()
            senders = [asyncio.create_task(send(session, origin, at, prompt_ids(p, rng, VOCAB_SIZE), o))
                       for at, p, o in requests]  # fmt: skip
            await asyncio.wait(senders, timeout=options.duration_s + 60.0)
            run.phase = "cool-down"
            end = time.monotonic() + options.cooldown_s
            while time.monotonic() < end and cluster.targets[key].spec_replicas > 1:
                await asyncio.sleep(1.0)
            await asyncio.sleep(2.0)  # one more sample after the last decision
        finally:
            stop.set()
            for t in senders:
                t.cancel()
            await asyncio.gather(*senders, *tasks, return_exceptions=True)
            await source.close()


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _summary(run: _Run, options: VllmDemoOptions, trace_path: Path, sent: int, spec: EngineSpec) -> dict[str, Any]:
    ok = [r for r in run.results if r.ok]
    desired = [int(s["desired"]) for s in run.samples]
    ups = sum(1 for a, b in itertools.pairwise(desired) if b > a)
    downs = sum(1 for a, b in itertools.pairwise(desired) if b < a)
    return {
        "mode": "vllm",
        "trace": trace_path.name,
        "speed": options.speed,
        "load_s": options.duration_s,
        "engine": {"max_num_seqs": spec.max_num_seqs, "kv_tokens": spec.kv_capacity_tokens},
        "requests": {
            "sent": sent,
            "completed": len(ok),
            "failed": len(run.results) - len(ok),
            "ttft_p50_s": _pct([r.ttft_s for r in ok], 50),
            "ttft_p95_s": _pct([r.ttft_s for r in ok], 95),
            "itl_p50_s": _pct([r.itl_s for r in ok if r.itl_s > 0], 50),
            "itl_p95_s": _pct([r.itl_s for r in ok if r.itl_s > 0], 95),
        },
        "scaling": {
            "up": ups,
            "down": downs,
            "max_ready": int(max((s["ready"] for s in run.samples), default=0)),
            "max_pods": int(max((s["pods"] for s in run.samples), default=0)),
            "final_desired": desired[-1] if desired else None,
        },
        "timeline": run.timeline,
    }


def _plot(run: _Run, path: Path) -> Path:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    t = [s["t_s"] for s in run.samples]
    ax1.step(t, [s["desired"] for s in run.samples], where="post", label="desired replicas", lw=2)
    ax1.step(t, [s["ready"] for s in run.samples], where="post", label="ready engines", lw=2, ls="--")
    ax1.set_ylabel("replicas")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax2.plot(t, [s["waiting"] for s in run.samples], label="waiting (all engines)")
    ax2.plot(t, [s["running"] for s in run.samples], label="running (all engines)")
    ax2.set_xlabel("seconds since the load started")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.suptitle("wva-ray demo on real vLLM engines (tiny model, CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
