"""Profile: the coordinator's side of the sharded cycle at fleet scale, in one process, no Ray.

What the coordinator actor does each cycle, on the synthetic fleet of `wva_ray.testing.fleet`, through the
runtime's own `CycleCore` (with a `GaugeExporter`, as the actor has): `open` (observe, expand, split), the work
encoding per shard (`SentVas`), the proposal decoding (`ProposalMirror`), and `close` (merge, global allocation,
publish: status writes and gauges). The shards' steps run in the same process but outside the timing and the
profile. The first `--warm` cycles fill the caches; the next `--cycles` are measured: CPU (process) time per
step, the 1-min load average with each, and (with `--profile FILE`) a cProfile of the measured coordinator steps,
whose top functions by cumulative and own time are printed.

    nice -n 19 .venv/bin/python benchmarks/profile_coordinator.py --vas 10000 --shards 4 --cycles 4 \
        --profile /tmp/coord.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.runtime import gc_pause
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.runtime.cycle import ShardProposal
from wva_ray.runtime.shard_codec import ProposalEncoder, ProposalMirror, SentVas, ShardVaCache
from wva_ray.runtime.shard_cycle import run_shard_step
from wva_ray.testing.bench_host import load1
from wva_ray.testing.fleet import FleetMetrics, FleetShape, FleetWiring, StepClock

STEPS = ("open", "work_encode", "proposal_decode", "close")


class _GcWatch:
    """The cyclic GC's full (generation 2) collections in this process: how many, and their CPU time."""

    def __init__(self) -> None:
        self.count = 0
        self.spent = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.process_time()
        else:
            self.count += 1
            self.spent += time.process_time() - self._start

    def take(self) -> tuple[int, float]:
        out = (self.count, round(self.spent, 4))
        self.count, self.spent = 0, 0.0
        return out


class _Timer:
    def __init__(self, profiler: cProfile.Profile | None) -> None:
        self.profiler = profiler
        self.on = False
        self.spent: dict[str, float] = dict.fromkeys(STEPS, 0.0)

    def run(self, step: str, fn: Any, *args: Any) -> Any:
        if self.on and self.profiler is not None:
            self.profiler.enable()
        t = time.process_time()
        try:
            return fn(*args)
        finally:
            self.spent[step] += time.process_time() - t
            if self.on and self.profiler is not None:
                self.profiler.disable()


def run(
    vas: int, shards: int, warm: int, cycles: int, profiler: cProfile.Profile | None, gc_mode: str
) -> dict[str, Any]:
    shape = FleetShape(vas)
    wiring = FleetWiring(shape)
    clock = StepClock(shape.period_s)
    metrics = FleetMetrics(shape, clock)
    gauges = GaugeExporter("bench", interval_s=30.0)
    collector = gc_pause.CycleCollector() if gc_mode == "cycle" else None  # as the coordinator actor's
    extra = {"collector": collector} if collector is not None else {}  # (a checkout without it: --gc default)
    core = CycleCore(wiring.cluster_view(), wiring.publishers(), shards, clock, gauges, **extra)
    sent = {s: SentVas() for s in range(shards)}
    caches = {s: ShardVaCache() for s in range(shards)}
    encoders = {s: ProposalEncoder() for s in range(shards)}
    mirrors = {s: ProposalMirror() for s in range(shards)}
    # one loop for the whole run, as in the actor: `asyncio.run` in the main thread reprs the previous run's task
    # (its result: the whole plan) when it swaps the SIGINT handler back, which would dominate the profile
    loop = asyncio.new_event_loop()
    gcs = _GcWatch()
    rows = []
    for cycle in range(1, warm + cycles + 1):
        clock.step = cycle
        timer = _Timer(profiler)
        timer.on = cycle > warm
        works = timer.run("open", lambda: loop.run_until_complete(core.open()))
        proposals: dict[int, ShardProposal] = {}
        for s, work in works.items():
            wire = timer.run("work_encode", sent[s].encode, work, caches[s].incarnation)
            shard_work = caches[s].decode(wire)
            proposal = loop.run_until_complete(run_shard_step(shard_work, metrics, shard_work.snapshot.now))
            back = encoders[s].encode(proposal)
            proposals[s] = timer.run("proposal_decode", mirrors[s].decode, back, work)
            encoders[s].settled(True)
        report = timer.run("close", lambda p=proposals: loop.run_until_complete(core.close(p)))
        row = {k: round(v, 4) for k, v in timer.spent.items()}
        row.update(cycle=cycle, measured=timer.on, decisions=len(report.plan.decisions), load1=load1())
        row.update({f"{k}_wall_s": round(report.phases_s[k], 4) for k in ("allocate", "publish")})
        row["gc2_collections"], row["gc2_cpu_s"] = gcs.take()  # the whole cycle's, the shards' steps included
        print(json.dumps(row), flush=True)
        rows.append(row)
    loop.close()
    measured = [r for r in rows if r["measured"]]
    return {
        "vas": vas,
        "shards": shards,
        "cycles": rows,
        "median_cpu_s": {k: round(statistics.median(r[k] for r in measured), 4) for k in STEPS},
        "median_total_cpu_s": round(statistics.median(sum(r[k] for k in STEPS) for r in measured), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vas", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the measured steps here")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--gc", default="cycle", choices=["cycle", "default"], help="cycle: runtime.gc_pause.CycleCollector"
    )
    parser.add_argument("--label", default="")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if args.gc == "cycle" and not hasattr(gc_pause, "CycleCollector"):
        parser.error("this checkout has no CycleCollector: use --gc default")
    result = run(args.vas, args.shards, args.warm, args.cycles, profiler, args.gc)
    result.update(
        label=args.label,
        commit=commit,
        command=f"python benchmarks/profile_coordinator.py --vas {args.vas} --shards {args.shards} "
        f"--warm {args.warm} --cycles {args.cycles} --gc {args.gc}",
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    print(json.dumps({k: result[k] for k in ("median_cpu_s", "median_total_cpu_s")}))
    if profiler is not None and args.profile is not None:
        profiler.dump_stats(args.profile)
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            print(out.getvalue())
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
