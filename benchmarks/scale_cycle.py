"""Benchmark: the sharded cycle at fleet scale (10,000 / 100,000 VAs, three variants per model).

Two parts, both on the synthetic fleet of `wva_ray.testing.fleet` (Kubernetes side: an in-memory cluster of
that size with the publisher's status rules; Prometheus side: batched pod-metric answers from a formula, 2 % of
the models changing load each period):

- `wire`: one process, no Ray. The coordinator's steps (observe, split, encode work per shard) and each
  shard's (decode, collect, propose, encode proposal), then the coordinator's decode, with the byte size of
  every message on the wire (pickle protocol 5, as Ray serialises them) and the CPU time of each step
  (process time: a loaded host stretches wall time, much less CPU time). Run twice
  in a row so the second cycle is the steady state (VA objects already in the shard caches, most groups
  unchanged).
- `ray`: the real runtime (coordinator + shard actors) on a local Ray (`--nodes 0`) or on a simulated
  multi-node cluster on this machine (`--nodes N`: one head with the coordinator, N worker nodes the shards
  spread over; `wva_ray.testing.ray_cluster`). Cycle p50/p99 back to back (interval 0.05 s), phases, the
  time from start to the first decision, and the RSS of every actor and of Ray's own processes.

The load average (1 min) is recorded with every figure: the machine is shared.

    .venv/bin/python benchmarks/scale_cycle.py --vas 10000,100000 --shards 1,2,4 --parts wire,ray [--nodes 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from wva_ray.runtime import shard_codec
from wva_ray.runtime.cycle import finalize_cycle, split
from wva_ray.runtime.shard_codec import SentVas, ShardVaCache
from wva_ray.runtime.shard_cycle import run_shard_step
from wva_ray.testing.bench_host import init_local_ray, load1, rss_mib
from wva_ray.testing.fleet import FleetCluster, FleetMetrics, FleetShape, FleetWiring

HEAD_RESOURCE = "wva-head"
SHARD_RESOURCE = "wva-shard"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    """The result and the CPU time of this process it took (less sensitive to a loaded host than wall time)."""
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=5)


# ---- wire: one process, every step timed -----------------------------------------------------------------
class _Codec:
    """The proposal transport of the checked-out code: row deltas when the codec has them, else the older
    whole-proposal form (VA objects stubbed out)."""

    def __init__(self) -> None:
        self.delta = hasattr(shard_codec, "ProposalEncoder")
        self.encoder = shard_codec.ProposalEncoder() if self.delta else None
        self.mirror = shard_codec.ProposalMirror() if self.delta else None

    def encode(self, proposal: Any) -> Any:
        if self.encoder is not None:
            return self.encoder.encode(proposal)
        return shard_codec.compact_proposal(proposal)

    def decode(self, wire: Any, work: Any) -> Any:
        if self.mirror is not None and self.encoder is not None:
            out = self.mirror.decode(wire, work)
            self.encoder.settled(True)
            return out
        return shard_codec.restore_proposal(wire, work)


class _StepClock:
    """The load schedule moves one period per cycle."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.step = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.step * self.period_s, UTC)


WIRE_KEYS = (
    "work_encode_s",
    "work_bytes",
    "work_pickle_s",
    "work_unpickle_s",
    "work_decode_s",
    "shard_step_s",
    "proposal_encode_s",
    "proposal_bytes",
    "proposal_pickle_s",
    "proposal_unpickle_s",
    "proposal_decode_s",
)


def wire_case(cluster: FleetCluster, shape: FleetShape, shards: int, cycles: int = 4) -> dict[str, Any]:
    """`cycles` cycles in one process; the load schedule moves one period per cycle (2 % of models change)."""
    clock = _StepClock(shape.period_s)
    metrics = FleetMetrics(shape, clock)
    sent = {s: SentVas() for s in range(shards)}
    caches = {s: ShardVaCache() for s in range(shards)}
    codecs = {s: _Codec() for s in range(shards)}
    rows = []
    for cycle in range(1, cycles + 1):
        clock.step = cycle
        now = datetime.now(UTC)
        snapshot, t_observe = timed(cluster.observe, now)
        works, t_split = timed(split, snapshot, shards, cycle)
        row: dict[str, Any] = {"cycle": cycle, "observe_s": t_observe, "split_s": t_split, "load1": load1()}
        agg = dict.fromkeys(WIRE_KEYS, 0.0)
        proposals = {}
        for s, work in works.items():
            wire, t = timed(sent[s].encode, work, caches[s].incarnation)
            agg["work_encode_s"] += t
            blob, t = timed(dumps, wire)
            agg["work_pickle_s"] += t
            agg["work_bytes"] += len(blob)
            received, t = timed(pickle.loads, blob)
            agg["work_unpickle_s"] += t
            shard_work, t = timed(caches[s].decode, received)
            agg["work_decode_s"] += t
            proposal, t = timed(lambda w: asyncio.run(run_shard_step(w, metrics, w.snapshot.now)), shard_work)
            agg["shard_step_s"] += t
            compact, t = timed(codecs[s].encode, proposal)
            agg["proposal_encode_s"] += t
            blob, t = timed(dumps, compact)
            agg["proposal_pickle_s"] += t
            agg["proposal_bytes"] += len(blob)
            back, t = timed(pickle.loads, blob)
            agg["proposal_unpickle_s"] += t
            restored, t = timed(codecs[s].decode, back, work)
            agg["proposal_decode_s"] += t
            proposals[s] = restored
        plan, t_allocate = timed(finalize_cycle, snapshot, list(proposals.values()), [], now)
        writes, t_publish = timed(cluster.write_status, plan.decisions, now)
        row.update({k: round(v, 4) if k.endswith("_s") else int(v) for k, v in agg.items()})
        row["wire_total_s"] = round(
            sum(v for k, v in agg.items() if k.startswith(("work_", "proposal_")) and k.endswith("_s")), 3
        )
        row.update({"allocate_s": round(t_allocate, 3), "publish_s": round(t_publish, 3), "status_writes": writes})
        row["decisions"] = len(plan.decisions)
        rows.append(row)
    return {"vas": shape.vas, "shards": shards, "codec": "delta" if _Codec().delta else "compact", "cycles": rows}


# ---- ray: the real runtime ------------------------------------------------------------------------------
def ray_case(shape: FleetShape, shards: int, cycles: int, seq: int, nodes: int) -> dict[str, Any]:
    import ray

    from wva_ray.runtime.coordinator_actor import CoordinatorOptions
    from wva_ray.runtime.launch import ShardPlacement, start_ray_runtime, stop_ray_runtime

    options = CoordinatorOptions(
        shards=shards, interval_s=0.05, deadline_s=120.0, head_resource=HEAD_RESOURCE if nodes else None
    )
    placement = ShardPlacement(resource=SHARD_RESOURCE if nodes else None)
    t0 = time.monotonic()
    rt = start_ray_runtime(FleetWiring(shape), options, name_prefix=f"s{seq}-", placement=placement)
    first_at = None
    summaries: list[Any] = []
    loads = []
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        summaries = ray.get(rt.coordinator.summaries.remote(0))
        if summaries and first_at is None:
            first_at = time.monotonic() - t0
        if len(summaries) >= cycles + 1:
            break
        loads.append(load1())
        time.sleep(0.2)
    infos = [ray.get(rt.coordinator.info.remote())] + [ray.get(s.info.remote()) for s in rt.shards]
    coordinator_rss = rss_mib(infos[0]["pid"])
    shard_rss = [round(rss_mib(i["pid"]), 1) for i in infos[1:]]
    stop_ray_runtime(rt)
    steady = [s.duration_s for s in summaries[1:]]
    phases = {k: round(statistics.median(s.phases_s[k] for s in summaries[1:]), 3) for k in summaries[-1].phases_s}
    return {
        "vas": shape.vas,
        "shards": shards,
        "nodes": nodes,
        "decisions_per_cycle": len(summaries[-1].desired) if summaries else 0,
        "first_cycle_s": round(summaries[0].duration_s, 3) if summaries else None,
        "start_to_first_decision_s": round(first_at, 2) if first_at is not None else None,
        "cycles_measured": len(steady),
        "cycle_p50_s": round(statistics.median(steady), 3) if steady else None,
        "cycle_p99_s": round(quantile(steady, 0.99), 3) if steady else None,
        "phases_p50_s": phases,
        "shard_compute_p50_s": round(
            statistics.median(v for s in summaries[1:] for v in s.shard_durations_s.values()), 3
        ),
        "coordinator_rss_mib": round(coordinator_rss, 1),
        "shard_rss_mib": shard_rss,
        "load1_during": [round(min(loads or [0]), 1), round(max(loads or [0]), 1)],
    }


def ray_system_rss_mib() -> float:
    import ray

    node = ray._private.worker._global_node
    if node is None:
        return 0.0
    return sum(rss_mib(info.process.pid) for infos in node.all_processes.values() for info in infos)


def machine() -> dict[str, Any]:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    return {"cpu": cpu, "cores": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vas", default="10000,100000")
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--parts", default="wire,ray")
    parser.add_argument("--wire-cycles", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=0, help="0: local Ray; N: head + N worker nodes on this host")
    parser.add_argument("--label", default="", help="a name for this run in the output (e.g. before/after)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/scale_cycle.json"))
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    vas_list = [int(v) for v in args.vas.split(",")]
    shard_list = [int(s) for s in args.shards.split(",")]
    doc: dict[str, Any] = {
        "benchmark": "scale_cycle",
        "label": args.label,
        "command": "python benchmarks/scale_cycle.py "
        + f"--vas {args.vas} --shards {args.shards} --cycles {args.cycles} --parts {args.parts} --nodes {args.nodes} "
        + f"--wire-cycles {args.wire_cycles}",
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "machine": machine(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "wire": [],
        "ray": [],
    }
    if "wire" in parts:
        for vas in vas_list:
            shape = FleetShape(vas)
            cluster, t_build = timed(FleetCluster, shape)
            for shards in shard_list:
                res = wire_case(cluster, shape, shards, args.wire_cycles)
                res["fleet_build_s"] = round(t_build, 2)
                print(json.dumps(res), flush=True)
                doc["wire"].append(res)
            del cluster
    if "ray" in parts:
        import ray

        from wva_ray.testing.ray_cluster import LocalRayCluster

        cluster_rig = None
        t0 = time.monotonic()
        if args.nodes:
            cluster_rig = LocalRayCluster(num_cpus_per_node=1, object_store_mib=300)
            cluster_rig.start_head(resources={HEAD_RESOURCE: 1})
            cluster_rig.add_workers({f"w{i + 1}": {SHARD_RESOURCE: 100} for i in range(args.nodes)})
            ray.init(address=cluster_rig.address, namespace="wva", log_to_driver=False)
        else:
            init_local_ray(ray)
        doc["ray_start_s"] = round(time.monotonic() - t0, 1)
        try:
            seq = 0
            for vas in vas_list:
                for shards in shard_list:
                    seq += 1
                    res = ray_case(FleetShape(vas), shards, args.cycles, seq, args.nodes)
                    res["ray_system_rss_mib"] = round(ray_system_rss_mib(), 1)
                    res["driver_rss_mib"] = round(rss_mib(os.getpid()), 1)
                    print(json.dumps(res), flush=True)
                    doc["ray"].append(res)
        finally:
            ray.shutdown()
            if cluster_rig is not None:
                cluster_rig.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
