"""Benchmark: metrics collection for many model groups through a REAL Prometheus.

N model groups x P pods of scripted emulated vLLM pods (many pods per process, spread over a few emulator
processes) are scraped by Debian's prometheus; the collector (`PrometheusMetricsSource`) then runs collection
cycles for all groups at once. Reports queries per cycle (must not grow with the number of models), collection
wall time per cycle (target < 1 s for 1,000 x 3), emulator CPU per pod and Prometheus RSS.

    .venv/bin/python benchmarks/metrics_collection.py --models 1000 --pods 3 --procs 2 --cycles 10

Bounded: every wait has a deadline; child processes and temp dirs are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from wva_ray.adapters.prometheus import queries as pq
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.core.ports import ModelGroupRef, ScaleToZeroQuery
from wva_ray.sim.emulator.metrics import Script, Signal
from wva_ray.sim.emulator.server import Emulator, PodSpec
from wva_ray.testing.bench_host import rss_mib
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig

NAMESPACES = ("bench-a", "bench-b", "bench-c", "bench-d")


def model_name(i: int) -> str:
    return f"org/llama-3.1-8b-v{i}"


def group_of(i: int) -> ModelGroupRef:
    return ModelGroupRef(NAMESPACES[i % len(NAMESPACES)], model_name(i))


def expected_kv(model_i: int, pod_j: int) -> float:
    return round(((model_i * 7 + pod_j * 13) % 100) / 100.0, 2)


# ---- emulator shard (child process) -------------------------------------------------------------------
async def serve_shard(first: int, last: int, pods: int, out: Path) -> None:
    emu = Emulator()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    for i in range(first, last):
        g = group_of(i)
        for j in range(pods):
            script = Script(
                kv_cache_usage=Signal("fixed", expected_kv(i, j)),
                num_requests_waiting=Signal("fixed", float(j)),
                request_rate_per_s=1.0,
                prompt_tokens=500 + j,
                output_tokens=100,
            )
            await emu.start_pod(PodSpec(name=f"m{i}-pod-{j}", model=g.model_id, namespace=g.namespace, script=script))
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(emu.file_sd_targets()))
    tmp.replace(out)
    await stop.wait()
    await emu.close()


def engine_seconds(url: str, groups: list[ModelGroupRef]) -> dict[str, float]:
    """Prometheus' own execTotalTime (stats=all) per query of one cycle, run one after the other."""
    sel = pq.GroupSelector.of(groups)
    queries = dict(pq.pod_queries(sel))
    queries["request_count"] = pq.request_count_query(sel, 600.0)
    queries["flow_control"] = pq.flow_control_query([g.model_id for g in groups])
    out: dict[str, float] = {}
    for name, expr in queries.items():
        params = urllib.parse.urlencode({"query": expr, "time": f"{time.time():.3f}", "stats": "all"})
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=60) as resp:
            data = json.loads(resp.read())
        out[name] = float(data["data"]["stats"]["timings"]["execTotalTime"])
    return out


# ---- driver -----------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for_data(
    src: PrometheusMetricsSource, groups: list[ModelGroupRef], pods: int, deadline_s: float
) -> float:
    t0 = time.monotonic()
    want = len(groups) * pods
    while True:
        rows = await src.pod_metrics(groups)
        ready = [r for r in rows if r.avg_input_tokens is not None and not r.stale]
        print(
            f"  [{time.monotonic() - t0:5.1f}s] rows {len(rows)}/{want}, with token averages {len(ready)}", flush=True
        )
        if len(ready) == want:
            return time.monotonic() - t0
        if time.monotonic() - t0 > deadline_s:
            raise SystemExit(f"timed out waiting for data: {len(ready)}/{want}")
        await asyncio.sleep(3.0)


async def measure(
    src: PrometheusMetricsSource, groups: list[ModelGroupRef], cycles: int, prom_pid: int
) -> dict[str, object]:
    prom_cpu0, own_cpu0, wall0 = cpu_seconds(prom_pid), time.process_time(), time.monotonic()
    walls: list[float] = []
    pod_walls: list[float] = []
    queries: list[int] = []
    rows_n: list[int] = []
    for _ in range(cycles):
        before = src.queries_sent
        t = time.perf_counter()
        rows = await src.pod_metrics(groups)
        pod_walls.append(time.perf_counter() - t)
        await src.request_counts([ScaleToZeroQuery(g, 600.0) for g in groups])
        await src.flow_control_queues(groups)
        walls.append(time.perf_counter() - t)
        queries.append(src.queries_sent - before)
        rows_n.append(len(rows))
    return {
        "groups": len(groups),
        "prometheus_cpu_s_per_cycle_incl_scraping": round((cpu_seconds(prom_pid) - prom_cpu0) / cycles, 4),
        "collector_cpu_s_per_cycle": round((time.process_time() - own_cpu0) / cycles, 4),
        "measure_wall_s": round(time.monotonic() - wall0, 2),
        "rows_min": min(rows_n),
        "queries_per_cycle": sorted(set(queries)),
        "wall_s_median": round(statistics.median(walls), 4),
        "wall_s_p90": round(sorted(walls)[int(0.9 * (len(walls) - 1))], 4),
        "wall_s_max": round(max(walls), 4),
        "pod_metrics_wall_s_median": round(statistics.median(pod_walls), 4),
    }


async def drive(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    procs: list[subprocess.Popen[bytes]] = []
    prom = LocalPrometheus(
        workdir / "prom",
        config=LocalPrometheusConfig(scrape_interval_s=args.scrape_interval, scrape_timeout_s=10.0, sd_refresh_s=5.0),
    )
    try:
        per = -(-args.models // args.procs)
        outs = []
        t0 = time.monotonic()
        for k in range(args.procs):
            first, last = k * per, min(args.models, (k + 1) * per)
            out = workdir / f"targets-{k}.json"
            outs.append(out)
            cmd = [
                sys.executable,
                __file__,
                "--serve-shard",
                f"{first}:{last}",
                "--pods",
                str(args.pods),
                "--out",
                str(out),
            ]
            procs.append(subprocess.Popen(cmd))
        while not all(o.exists() for o in outs):
            if any(p.poll() is not None for p in procs):
                raise SystemExit("an emulator shard exited early")
            if time.monotonic() - t0 > 300:
                raise SystemExit("emulator shards did not start within 300 s")
            await asyncio.sleep(0.2)
        startup_s = time.monotonic() - t0
        targets = [t for o in outs for t in json.loads(o.read_text())]
        print(f"{len(targets)} emulated pods in {args.procs} processes, started in {startup_s:.1f}s", flush=True)
        (workdir / "prom").mkdir(parents=True, exist_ok=True)
        prom.write_targets(targets)
        prom.start()
        src = PrometheusMetricsSource(
            PrometheusSettings(base_url=prom.url, timeout_s=30.0, query_concurrency=args.concurrency)
        )
        groups = [group_of(i) for i in range(args.models)]
        data_s = await wait_for_data(src, groups, args.pods, deadline_s=240.0)
        # correctness spot check
        rows = {(r.namespace, r.model_name, r.pod): r for r in await src.pod_metrics(groups)}
        for i in (0, args.models // 2, args.models - 1):
            g = group_of(i)
            for j in range(args.pods):
                r = rows[(g.namespace, g.model_id, f"m{i}-pod-{j}")]
                assert r.kv_cache_usage == expected_kv(i, j) and r.queue_length == j, r
                assert abs((r.avg_input_tokens or 0) - (500 + j)) < 1e-6, r
        results = []
        for n in sorted({1, 10, 100, args.models}):
            if n <= args.models:
                assert prom._proc is not None
                res = await measure(src, groups[:n], args.cycles, prom._proc.pid)
                print(f"  {res}", flush=True)
                results.append(res)
        engine = [await asyncio.to_thread(engine_seconds, prom.url, groups) for _ in range(3)]
        engine_totals = sorted(sum(e.values()) for e in engine)
        up = await asyncio.to_thread(src._http.query, "count(up == 0) or vector(0)", time.time(), "targets_down")
        targets_down = float(up[0]["value"][1]) if up else -1.0
        cpu0 = {p.pid: cpu_seconds(p.pid) for p in procs}
        assert prom._proc is not None
        prom_cpu0 = cpu_seconds(prom._proc.pid)
        w0 = time.monotonic()
        await asyncio.sleep(args.cpu_window)
        wall = time.monotonic() - w0
        cpu = sum(cpu_seconds(p.pid) - cpu0[p.pid] for p in procs)
        prom_idle_cores = (cpu_seconds(prom._proc.pid) - prom_cpu0) / wall
        scrapes = len(targets) * wall / args.scrape_interval
        src.close()
        return {
            "pods": len(targets),
            "models": args.models,
            "emulator_processes": args.procs,
            "query_concurrency": args.concurrency,
            "emulator_startup_s": round(startup_s, 1),
            "scrape_interval_s": args.scrape_interval,
            "first_complete_data_s": round(data_s, 1),
            "collection": results,
            "targets_down_after_cycles": targets_down,
            "prometheus_exec_s_per_cycle_sequential_all_groups": [round(x, 3) for x in engine_totals],
            "prometheus_exec_s_by_query_last": {k: round(v, 4) for k, v in engine[-1].items()},
            "load_average_1m": os.getloadavg()[0],
            "prometheus_cpu_cores_scraping_only": round(prom_idle_cores, 3),
            "emulator_cpu_cores_total": round(cpu / wall, 3),
            "emulator_cpu_per_pod_millicores": round(1000 * cpu / wall / len(targets), 3),
            "emulator_cpu_ms_per_scrape": round(1000 * cpu / scrapes, 3),
            "emulator_rss_mib_total": round(sum(rss_mib(p.pid) for p in procs), 1),
            "prometheus_rss_mib": round(rss_mib(prom._proc.pid), 1) if prom._proc else None,
        }
    finally:
        prom.stop()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=3)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--scrape-interval", type=float, default=15.0)
    ap.add_argument("--cpu-window", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=2, help="PROMETHEUS_QUERY_CONCURRENCY of the collector")
    ap.add_argument("--serve-shard", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if args.serve_shard:
        first, last = (int(x) for x in args.serve_shard.split(":"))
        asyncio.run(serve_shard(first, last, args.pods, args.out))
        return
    workdir = Path(tempfile.mkdtemp(prefix="wva-bench-metrics-"))
    try:
        result = asyncio.run(drive(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
