"""Soak: 10,000 VAs for a simulated hour at a 30 s interval on a fast clock, with the real Ray runtime.

The fleet is `wva_ray.testing.fleet` (the coordinator's in-memory API server with the publisher's status rules
and a 300 s heartbeat; formula metrics for the shards): every simulated 30 s 2 % of the models change load, and
every `--replace-every-min` simulated minutes 5 % of the models are deleted and replaced by new ones (VAs come
and go).
The decision clock is `ScaledClock` (`--speed` x wall time) and the coordinator's interval is 30 s / speed, so
one cycle is 30 simulated seconds when it fits in its interval (a slower cycle stretches simulated time, reported).

Measured: RSS of the coordinator and every shard each cycle (growth = mean of the last 5 cycles over 5 cycles
after the first fifth of the run);
gauge series on the coordinator's /metrics against the VAs that exist (leaked series = series of deleted VAs);
status writes per cycle classified as change (desired replicas moved), heartbeat (same value, >= 300 s since
that VA's last write) or other (same value, a condition or its message changed).

    .venv/bin/python benchmarks/soak.py [--vas 10000] [--sim-hours 1] [--speed 10] [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray

from wva_ray.adapters.clock import ScaledClock
from wva_ray.runtime.coordinator_actor import CoordinatorOptions
from wva_ray.runtime.launch import start_ray_runtime, stop_ray_runtime
from wva_ray.testing.bench_host import init_local_ray, load1, rss_mib
from wva_ray.testing.fleet import FleetShape, FleetWiring

INTERVAL_SIM_S = 30.0


def series_names(url: str) -> set[str]:
    text = urllib.request.urlopen(url, timeout=30).read().decode()
    out = set()
    for line in text.splitlines():
        if line.startswith("wva_desired_replicas{"):
            labels = line[line.index("{") + 1 : line.rindex("}")]
            fields = {k: v.strip('"') for k, v in (part.split("=", 1) for part in labels.split('",') if "=" in part)}
            out.add(fields["namespace"] + "/" + fields["variant_name"])
    return out


def _stats(actor: Any) -> dict[str, Any]:
    """The fleet's counters, read inside the coordinator actor (benchmark introspection)."""
    out: dict[str, Any] = actor.core.view.cluster.stats()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vas", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--sim-hours", type=float, default=1.0)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--churn", type=float, default=0.02, help="fraction of models changing load per 30 s")
    parser.add_argument("--replace-every-min", type=float, default=10.0, help="simulated minutes between replacements")
    parser.add_argument("--replace-fraction", type=float, default=0.05, help="fraction of the models replaced")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    init_local_ray(ray)
    clock = ScaledClock(datetime(2026, 1, 1, tzinfo=UTC), time.time(), args.speed)
    shape = FleetShape(
        args.vas,
        churn=args.churn,
        period_s=INTERVAL_SIM_S,
        replace_every_s=args.replace_every_min * 60.0,
        replace_fraction=args.replace_fraction,
    )
    options = CoordinatorOptions(
        shards=args.shards, interval_s=INTERVAL_SIM_S / args.speed, deadline_s=120.0, metrics_port=0
    )
    rt = start_ray_runtime(FleetWiring(shape, clock), options, name_prefix="soak-")
    info = ray.get(rt.coordinator.info.remote())
    url = f"http://127.0.0.1:{info['metrics_port']}/metrics"
    pids = [info["pid"]] + [ray.get(s.info.remote())["pid"] for s in rt.shards]
    sim_end_s = args.sim_hours * 3600.0
    rows: list[dict[str, Any]] = []
    leaks: list[int] = []
    seen = 0
    t0: datetime | None = None
    before = {"change": 0, "heartbeat": 0, "other": 0}
    try:
        while True:
            summaries = ray.get(rt.coordinator.summaries.remote(seen))
            if not summaries:
                time.sleep(0.2)
                continue
            s = summaries[-1]
            seen = s.cycle
            at = datetime.fromisoformat(s.at)
            t0 = t0 or at
            sim_s = (at - t0).total_seconds()
            stats = ray.get(rt.coordinator.__ray_call__.remote(_stats))
            kinds = {k: v - before[k] for k, v in stats["writes"].items()}
            before = dict(stats["writes"])
            alive = set(s.desired)
            names = series_names(url)
            newer = ray.get(rt.coordinator.summaries.remote(seen))  # a cycle may have published meanwhile
            leaked = len(names - alive - (set(newer[-1].desired) if newer else set()))
            leaks.append(leaked)
            row = {
                "cycle": seen,
                "sim_s": round(sim_s, 1),
                "duration_s": round(s.duration_s, 3),
                "rss_mib": [round(rss_mib(p), 1) for p in pids],
                "vas": len(alive),
                "generation": stats["generation"],
                "gauge_series": len(names),
                "leaked_series": leaked,
                "writes": kinds,
                "load1": load1(),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if sim_s >= sim_end_s:
                break
    finally:
        stop_ray_runtime(rt)
        ray.shutdown()
    totals = dict(before)
    totals_rss = [sum(r["rss_mib"]) for r in rows]
    warm = max(2, len(totals_rss) // 5)  # after the first full status write and the warm-up
    early = totals_rss[warm : warm + 5] or totals_rss[:1]
    late = totals_rss[-5:]
    growth = statistics.mean(late) / statistics.mean(early) - 1.0
    doc = {
        "benchmark": "soak",
        "command": f"python benchmarks/soak.py --vas {args.vas} --shards {args.shards} --sim-hours {args.sim_hours} "
        f"--speed {args.speed} --churn {args.churn} --replace-every-min {args.replace_every_min} "
        f"--replace-fraction {args.replace_fraction}",
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "machine": {"cores": os.cpu_count()},
        "cycles": len(rows),
        "simulated_s": rows[-1]["sim_s"] if rows else 0,
        "cycle_p50_s": statistics.median(r["duration_s"] for r in rows),
        "rss_total_mib_early": round(statistics.mean(early), 1),
        "rss_total_mib_late": round(statistics.mean(late), 1),
        "rss_growth": round(growth, 4),
        "max_leaked_series": max(leaks),
        "status_writes": totals,
        "load1_range": [min(r["load1"] for r in rows), max(r["load1"] for r in rows)],
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "rows"}))


if __name__ == "__main__":
    main()
