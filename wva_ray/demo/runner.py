"""`wva-ray demo`: the whole autoscaler on one machine with no cluster. Does I/O (Ray, emulated servers on
loopback ports, the terminal, files in the output directory).

Two models with two or three variants each (H100 / A100 / L40S serving profiles) run as emulated vLLM pods in an
embedded in-memory cluster; a segment of a shared trace (../shared/data/traces) is replayed, compressed in time
by `speed` (arrival times divided by `speed`, requests thinned so each model sees a load worth a few replicas,
shaped by a rise-and-fall envelope);
the coordinator and shard actors (or, with `use_ray=False`, the same code in one process) decide every
`30 s / speed`, reading the pods by direct scrape, and act directly on the in-memory targets (pods start after
the profile's start-up delay divided by `speed`).

Two clocks. The controller runs on `ScaledClock`, trace time: its cycle, its windows, the analyzers' time
constants and the start-up delays it plans with are trace seconds (a pod's start-up, `startup_s / speed` wall
seconds, is `startup_s` on it). The emulated pods serve at real speed, in wall time: a request takes as long as on
the profile's hardware, so a pod's capacity is per wall second, and the scrape source reports every rate per wall
second too (`demo.scrape`), the unit the analyzers compare demand with capacity in. The termination grace period
(`GRACE_S`) is in wall seconds for the same reason. GPU-hours in the summary are in trace time (wall x speed).
Terms an analyzer derives from the controller's own clock (e.g. learned's growth of in-flight requests between
two cycles, divided by the cycle's trace seconds) stay per trace second: the core cannot know that the pods run on
another clock.

By default the same requests (same trace segment, same seed) are replayed under two decision rules at once, each
in its own embedded cluster with its own controller (`demo.runs`: upstream WVA v0.9's stock rule and wva-ray's
default). Side by side rather than one after the other: both see the same machine load, and the demo stays
within the README's three minutes on two cores. A live table shows each run's variants; at the end the summary
(per run and compared) is printed and written to `DIR/summary.json` with a plot `DIR/demo.png`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from wva_ray.adapters.clock import ScaledClock
from wva_ray.demo.cluster import DemoCluster, DemoRequest, DemoVariant
from wva_ray.demo.report import RunData, RunInfo, render_comparison, render_tables, summarize, write_summary
from wva_ray.demo.runs import DEFAULT_ANALYZER, DemoRun, demo_runs
from wva_ray.demo.wiring import DemoWiring
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.traces import Trace, load_trace

DEFAULT_TRACE = "mooncake_fast25_conversation"
UPSTREAM_INTERVAL_S = 30.0
MAX_PROMPT_TOKENS = 32_000
MAX_OUTPUT_TOKENS = 2_048
# Kubernetes default terminationGracePeriodSeconds, in wall seconds: requests are served at real speed, so the
# drain time of a pod is not compressed with the trace
GRACE_S = 30.0
ENVELOPE_MIN = 0.35
ENVELOPE_MAX = 2.0

# model -> (profile ids, target prefill tokens/s of its replayed load, wall)
DEMO_MODELS: dict[str, tuple[tuple[str, ...], float]] = {
    "llama-3.1-8b": (("llama-3.1-8b/H100", "llama-3.1-8b/A100", "llama-3.1-8b/L40S"), 32_000.0),
    "llama-3.1-70b": (("llama-3.1-70b/H100x4", "llama-3.1-70b/A100x4"), 10_000.0),
}


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 100.0
    output: Path = Path("demo-output")
    trace: str = DEFAULT_TRACE
    speed: float = 12.0
    use_ray: bool = True
    shards: int = 2
    live: bool = True
    seed: int = 0
    shared_dir: Path | None = None
    dashboard: bool = False  # start the Ray dashboard (named actors in `ray list actors`, health metrics)
    analyzer: str = DEFAULT_ANALYZER  # wva-ray's side (a ConfigMap analyzerName; "" = upstream's code default V1)
    compare: bool = True  # also run upstream's stock rule on the same requests, side by side (demo.runs)

    @property
    def interval_s(self) -> float:
        return max(0.5, UPSTREAM_INTERVAL_S / self.speed)

    @property
    def runs(self) -> tuple[DemoRun, ...]:
        return demo_runs(self.analyzer, self.compare)


def repo_shared_dir() -> Path:
    """../shared next to the checkout (this file is wva_ray/demo/runner.py)."""
    return Path(__file__).resolve().parents[2].parent / "shared"


def resolve_trace(name: str, shared_dir: Path | None = None) -> Path:
    """A trace by file path, or by name in ../shared/data/traces (with or without its suffix)."""
    direct = Path(name)
    if direct.suffix in (".csv", ".jsonl") and direct.is_file():
        return direct
    traces = (shared_dir or repo_shared_dir()) / "data" / "traces"
    if not traces.is_dir():
        raise FileNotFoundError(
            f"trace folder {traces} not found: the demo replays the shared traces; keep the checkout beside "
            f"shared/ (or pass --trace with a .csv/.jsonl file path)"
        )
    for candidate in (traces / name, traces / f"{name}.jsonl", traces / f"{name}.csv"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in traces.iterdir() if p.suffix in (".csv", ".jsonl"))
    raise FileNotFoundError(f"trace {name!r} not found in {traces}; known traces: {', '.join(known)}")


def demo_variants() -> list[DemoVariant]:
    out = []
    for model, (profiles, _) in DEMO_MODELS.items():
        for pid in profiles:
            profile = get_profile(pid)
            out.append(DemoVariant(f"{model.replace('.', '-')}-{profile.accelerator.lower()}", model, profile))
    return out


def envelope(fraction: float) -> float:
    """The load multiplier over the run (0 -> 1): from 0.35 up to 2.0 at mid-run and back, so that the demo
    shows scale-ups, holds and scale-downs within a few minutes (the trace itself has no day shape)."""
    return ENVELOPE_MIN + (ENVELOPE_MAX - ENVELOPE_MIN) * math.sin(math.pi * min(1.0, max(0.0, fraction))) ** 2


def build_requests(trace: Trace, options: DemoOptions) -> list[DemoRequest]:
    """Each model replays its own segment of the trace, compressed by `speed`, thinned to its target load and
    shaped by `envelope`."""
    span = options.duration_s * options.speed
    rng = random.Random(options.seed)
    requests: list[DemoRequest] = []
    models = list(DEMO_MODELS)
    for i, model in enumerate(models):
        _, target_prefill = DEMO_MODELS[model]
        latest = max(0.0, trace.duration_s - span)
        start = latest * i / max(1, len(models) - 1)
        seg = trace.window(start, start + span)
        if len(seg) == 0:
            continue
        prompts = [min(int(p), MAX_PROMPT_TOKENS) for p in seg.prompt_tokens]
        wall_span = span / options.speed
        full_prefill = sum(prompts) / wall_span
        keep = min(1.0, target_prefill / full_prefill) if full_prefill > 0 else 1.0
        for t, p, o in zip(seg.arrival_s, prompts, seg.output_tokens, strict=True):
            if rng.random() < keep * envelope(float(t) / span):
                out = max(1, min(int(o), MAX_OUTPUT_TOKENS))
                requests.append(DemoRequest(float(t) / options.speed, model, max(1, p), out))
    requests.sort(key=lambda r: r.at_s)
    return requests


async def _drive_live(
    rows: Callable[[], Any],  # async () -> [(run label, rows of that run's live table)]
    options: DemoOptions,
    console: Console,
    title: str,
    done: Callable[[], bool],
) -> None:
    end = time.monotonic() + options.duration_s
    live_cm: Any = (
        Live(console=console, refresh_per_second=2, transient=False) if options.live else contextlib.nullcontext()
    )
    with live_cm as live:
        while time.monotonic() < end and not done():
            if live is not None:
                left = end - time.monotonic()
                live.update(render_tables(await rows(), f"{title} — {left:4.0f} s left"))
            await asyncio.sleep(1.0)


def run_demo(options: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    """Run the demo and return its summary (also written to `options.output`)."""
    console = console or Console()
    trace_path = resolve_trace(options.trace, options.shared_dir)
    options.output.mkdir(parents=True, exist_ok=True)
    trace = load_trace(trace_path)
    requests = build_requests(trace, options)
    runs = options.runs
    console.print(
        f"[bold]wva-ray demo[/bold]: trace {trace_path.name}, speed x{options.speed:g}, "
        f"{options.duration_s:.0f} s, {len(requests)} requests, interval {options.interval_s:.2f} s, "
        f"{'Ray with ' + str(options.shards) + ' shards' if options.use_ray else 'no Ray (one process)'}; "
        + (
            f"side by side on the same requests: {' vs '.join(r.label for r in runs)}"
            if len(runs) > 1
            else f"one run: {runs[0].label}"
        )
    )
    clock = ScaledClock(datetime.now(UTC), time.time(), options.speed)
    started = time.monotonic()
    if options.use_ray:
        results = _run_with_ray(options, runs, requests, clock, console)
    else:
        results = asyncio.run(_run_local(options, runs, requests, clock, console))
    info = RunInfo(
        "ray" if options.use_ray else "no-ray",
        trace_path.name,
        options.speed,
        min(options.duration_s, time.monotonic() - started),
        options.interval_s,
        options.shards,
        len(requests),
        options.seed,
    )
    summary = summarize(results, info)
    summary["load"] = {
        "trace_window": "each model replays its own segment of the trace, arrival times divided by speed",
        "envelope": f"{ENVELOPE_MIN} -> {ENVELOPE_MAX} -> {ENVELOPE_MIN} (sin^2 over the run)",
        "target_prefill_tokens_per_s_wall": {m: target for m, (_, target) in DEMO_MODELS.items()},
        "variants": {v.name: v.profile.id for v in demo_variants()},
    }
    path = write_summary(summary, options.output)
    plot = _plot(results, options, summary, console)
    _print_summary(console, summary, path, plot)
    return summary


def _plot(results: list[RunData], options: DemoOptions, summary: dict[str, Any], console: Console) -> Path | None:
    """The plot, or None with a hint when matplotlib (the optional `plot` extra) is not installed."""
    from wva_ray.demo.plot import write_plot
    from wva_ray.sim.plotting import PLOT_EXTRA_HINT

    try:
        return write_plot(results, summary, options.speed, options.output)
    except ModuleNotFoundError as exc:
        if "matplotlib" not in str(exc):
            raise
        console.print(escape(f"no plot: {PLOT_EXTRA_HINT}"))
        return None


def _print_summary(console: Console, s: dict[str, Any], path: Path, plot: Path | None) -> None:
    slo = s["slo_targets"]
    console.print(
        f"\n[bold]summary[/bold] ({s['mode']}, {s['requests_sent']} requests sent"
        f"{' to each run' if len(s['runs']) > 1 else ''}; SLO: TTFT <= "
        f"{slo['ttft_s']} s and ITL <= {slo['itl_s']} s; GPU-hours in trace time)"
    )
    console.print(render_comparison(s))
    console.print(f"written: {path}" + (f" and {plot}" if plot is not None else ""))


def _host_name(run: DemoRun, runs: tuple[DemoRun, ...]) -> str:
    return "wva-demo-cluster" if len(runs) == 1 else f"wva-demo-cluster-{run.label}"


def _actor_prefix(run: DemoRun, runs: tuple[DemoRun, ...]) -> str:
    """Actor name prefix of a run's controller: none for a single run (the usual `wva-coordinator`)."""
    return "" if len(runs) == 1 else f"{run.label}-"


def _run_with_ray(
    options: DemoOptions,
    runs: tuple[DemoRun, ...],
    requests: list[DemoRequest],
    clock: ScaledClock,
    console: Console,
) -> list[RunData]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from wva_ray.runtime.coordinator_actor import CoordinatorOptions
    from wva_ray.runtime.launch import RayRuntime, start_ray_runtime, stop_ray_runtime

    owns_ray = not ray.is_initialized()
    if owns_ray:
        console.print("starting local Ray (a few seconds)...")
        ray.init(num_cpus=2, include_dashboard=options.dashboard, log_to_driver=False, namespace="wva")
    host_cls: Any = ray.remote(num_cpus=0)(DemoCluster)
    hosts = [
        host_cls.options(name=_host_name(run, runs), namespace="wva").remote(
            demo_variants(), 1.0 / options.speed, GRACE_S, config=run.config()
        )
        for run in runs
    ]
    rts: list[RayRuntime] = []
    try:
        ray.get([host.setup.remote() for host in hosts])
        coord_opts = CoordinatorOptions(
            shards=options.shards,
            interval_s=options.interval_s,
            deadline_s=options.interval_s * 0.6,
            metrics_port=0,
        )
        for run, host in zip(runs, hosts, strict=True):
            rts.append(start_ray_runtime(DemoWiring(host, clock), coord_opts, name_prefix=_actor_prefix(run, runs)))
            info = ray.get(rts[-1].coordinator.info.remote())
            console.print(f"{run.label}: coordinator up; gauges at http://127.0.0.1:{info['metrics_port']}/metrics")
        ray.get([host.start.remote(requests) for host in hosts])

        async def rows() -> list[tuple[str, Any]]:
            tables = await asyncio.gather(*(host.rows.remote() for host in hosts))
            return [(run.label, t) for run, t in zip(runs, tables, strict=True)]

        asyncio.run(_drive_live(rows, options, console, "wva-ray demo (Ray)", lambda: False))
        cycles = [len(summaries) for summaries in ray.get([rt.coordinator.summaries.remote(0) for rt in rts])]
        with contextlib.suppress(Exception):  # every controller finishes its cycle in progress at once, then goes
            ray.get([rt.coordinator.stop.remote() for rt in rts], timeout=30.0)
        for rt in rts:
            stop_ray_runtime(rt, timeout_s=5.0)
        rts = []
        data: list[dict[str, Any]] = ray.get([host.export_async.remote() for host in hosts])
        ray.get([host.close.remote() for host in hosts])
        return [RunData(run, d, c) for run, d, c in zip(runs, data, cycles, strict=True)]
    finally:
        for rt in rts:
            stop_ray_runtime(rt)
        for host in hosts:
            with contextlib.suppress(Exception):
                ray.kill(host, no_restart=True)
        if owns_ray:
            ray.shutdown()


async def _run_local(
    options: DemoOptions,
    runs: tuple[DemoRun, ...],
    requests: list[DemoRequest],
    clock: ScaledClock,
    console: Console,
) -> list[RunData]:
    """Every run in this process and event loop: one embedded cluster and one `LocalRuntime` per run."""
    from wva_ray.adapters.gauges import GaugeExporter
    from wva_ray.runtime.local import LocalRuntime

    clusters = [DemoCluster(demo_variants(), 1.0 / options.speed, GRACE_S, config=run.config()) for run in runs]
    await asyncio.gather(*(cluster.setup() for cluster in clusters))
    runtimes, sources, tasks = [], [], []
    stop = asyncio.Event()
    for cluster in clusters:
        wiring = DemoWiring(cluster, clock)
        core = CycleCore(wiring.cluster_view(), wiring.publishers(), options.shards, clock, GaugeExporter())
        sources.append(wiring.metrics_source())
        runtimes.append(LocalRuntime(core, sources[-1], options.interval_s, options.interval_s * 0.6))
        tasks.append(asyncio.create_task(runtimes[-1].run(stop)))
    try:
        await asyncio.gather(*(cluster.start(requests) for cluster in clusters))

        async def rows() -> list[tuple[str, Any]]:
            return [(run.label, cluster.table_rows()) for run, cluster in zip(runs, clusters, strict=True)]

        await _drive_live(rows, options, console, "wva-ray demo (no Ray)", lambda: any(task.done() for task in tasks))
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=max(10.0, options.interval_s * 2))
        for source in sources:
            close = getattr(source, "close", None)
            if close is not None:
                await close()
    data = [await cluster.export_async() for cluster in clusters]
    for cluster in clusters:
        await cluster.close()
    return [RunData(run, d, rt.cycles) for run, d, rt in zip(runs, data, runtimes, strict=True)]
