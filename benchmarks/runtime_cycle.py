"""Benchmark: end-to-end cycle latency of the Ray runtime (coordinator + shard actors) with a scripted metrics
source, for 100 / 1,000 / 10,000 VAs and 1 / 2 / 4 shards; controller RSS; time from start to first decision.

The "cluster" is a `MemoryCluster` (an in-memory API server: VAs, one Deployment-like target and one pod per VA,
status writes with the same change rules as the Kubernetes publisher); by default each actor holds its own copy
(`--host inline`: the coordinator reads it in-process like the informer cache of `wva-ray run`; the shards only
read scripted metrics from it), or it is a separate Ray actor (`--host actor`). Every model has two variants and
a steady scripted load. A cycle is measured by the coordinator from observe to the end of
publish (`CycleReport.duration_s`), so it includes the Ray calls to the host and to the shards. The cycles run
back to back (interval 0.05 s). The first cycle (which writes every VA's status) is reported apart.

    .venv/bin/python benchmarks/runtime_cycle.py [--vas 100,1000,10000] [--shards 1,2,4] [--cycles 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray

from wva_ray.runtime.coordinator_actor import CoordinatorOptions
from wva_ray.runtime.launch import start_ray_runtime, stop_ray_runtime
from wva_ray.testing.bench_host import rss_mib
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring


def ray_system_pids() -> list[int]:
    """The processes of THIS Ray session (GCS, raylet, monitors, dashboard), not other sessions on the host."""
    node = ray._private.worker._global_node
    return [info.process.pid for infos in node.all_processes.values() for info in infos]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_case(vas: int, shards: int, cycles: int, seq: int, host_mode: str) -> dict[str, Any]:
    models = max(1, vas // 2)
    specs = [
        VariantSpec(f"m{m}-{acc}", f"m{m}", acc.upper(), cost=cost, namespace=f"ns{m % 10}")
        for m in range(models)
        for acc, cost in (("h100", 10.0), ("l40s", 3.0))
    ][:vas]
    if host_mode == "actor":
        host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
        host = host_cls.options(name=f"bench-cluster-{seq}", namespace="wva").remote(time.monotonic)
        for i in range(0, len(specs), 2000):
            ray.get([host.add_variant.remote(s) for s in specs[i : i + 2000]])
        ray.get([host.set_load.remote(f"m{m}", 0.5, 0.0) for m in range(models)])
    else:
        host = MemoryCluster(time.monotonic)
        for spec in specs:
            host.add_variant(spec)
        for m in range(models):
            host.set_load(f"m{m}", 0.5, 0.0)
    options = CoordinatorOptions(shards=shards, interval_s=0.05, deadline_s=60.0)
    t0 = time.monotonic()
    rt = start_ray_runtime(MemoryWiring(host, direct=False), options, name_prefix=f"b{seq}-")
    first_at = None
    summaries: list[Any] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        summaries = ray.get(rt.coordinator.summaries.remote(0))
        if summaries and first_at is None:
            first_at = time.monotonic() - t0
        if len(summaries) >= cycles + 1:
            break
        time.sleep(0.05)
    infos = [ray.get(rt.coordinator.info.remote())] + [ray.get(s.info.remote()) for s in rt.shards]
    actors_rss = sum(rss_mib(i["pid"]) for i in infos)
    system_rss = sum(rss_mib(p) for p in ray_system_pids())
    stop_ray_runtime(rt)
    if host_mode == "actor":
        ray.kill(host, no_restart=True)
    steady = [s.duration_s for s in summaries[1:]]
    decisions = len(summaries[-1].desired) if summaries else 0
    return {
        "host": host_mode,
        "vas": vas,
        "shards": shards,
        "decisions_per_cycle": decisions,
        "first_cycle_s": round(summaries[0].duration_s, 3) if summaries else None,
        "cycles_measured": len(steady),
        "cycle_p50_s": round(statistics.median(steady), 3) if steady else None,
        "cycle_p99_s": round(quantile(steady, 0.99), 3) if steady else None,
        "cycle_max_s": round(max(steady), 3) if steady else None,
        "phases_p50_s": {
            k: round(statistics.median(s.phases_s[k] for s in summaries[1:]), 3) for k in summaries[-1].phases_s
        }
        if len(summaries) > 1
        else {},
        "shard_compute_p50_s": round(
            statistics.median(v for s in summaries[1:] for v in s.shard_durations_s.values()), 3
        )
        if len(summaries) > 1
        else None,
        "start_to_first_decision_s": round(first_at, 2) if first_at is not None else None,
        "controller_actors_rss_mib": round(actors_rss, 1),
        "ray_system_rss_mib": round(system_rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vas", default="100,1000,10000")
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument(
        "--host",
        choices=("inline", "actor"),
        default="inline",
        help="inline: each actor holds its own copy of the fake cluster, as the coordinator holds its informer "
        "cache in `wva-ray run` (observe costs no transfer); actor: the fake cluster is a separate Ray actor",
    )
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/runtime_cycle.json"))
    args = parser.parse_args()
    t0 = time.monotonic()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="wva")
    init_s = time.monotonic() - t0
    results = []
    seq = 0
    for vas in (int(v) for v in args.vas.split(",")):
        for shards in (int(s) for s in args.shards.split(",")):
            seq += 1
            res = run_case(vas, shards, args.cycles, seq, args.host)
            print(json.dumps(res), flush=True)
            results.append(res)
    ray.shutdown()
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    doc = {
        "benchmark": "runtime_cycle",
        "commit": commit.stdout.strip(),
        "machine": {"cpu": cpu, "cores": os.cpu_count()},
        "ray_init_s": round(init_s, 2),
        "driver_rss_mib": round(rss_mib(os.getpid()), 1),
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
