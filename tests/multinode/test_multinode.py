"""The Ray runtime on a real three-node Ray cluster (one head, two workers, all on this machine): placement and
node loss. Marker `integration`; `pytest -k multinode` selects them.

- placement: the coordinator and the in-memory API server run on the head (`wva-head`), the four shards spread
  over the worker nodes (`wva-shard`); the state API (the dashboard's) says which node runs which shard actor,
  and the actor name `wva-shard-<i>-of-<n>` says which model groups it owns.
- node loss: a worker node is SIGKILLed in the middle of a cycle (while its shards are collecting metrics);
  its shards are restarted on the surviving worker, every cycle still publishes one decision per VA (held for
  the lost groups until they are back), the scaled-up model's status never goes backwards, and the coordinator's
  gauges never lose a series. Time to recover is measured and written to `out/multinode/node_loss.json`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.multinode.conftest import HEAD_RESOURCE, SHARD_RESOURCE, WORKERS
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import assign
from wva_ray.runtime.coordinator_actor import CoordinatorOptions, CycleSummary
from wva_ray.runtime.launch import RayRuntime, ShardPlacement, shard_actor_name, start_ray_runtime, stop_ray_runtime
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring
from wva_ray.testing.ray_cluster import LocalRayCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SHARDS = 4
MODELS = 12
INTERVAL_S = 1.0
DEADLINE_S = 0.6
METRICS_DELAY_S = 0.3  # each shard spends this long collecting, so a kill lands mid-cycle
OUT = Path("out/multinode")


def _wait(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Harness:
    """One coordinator + four shards over a hosted `MemoryCluster`, on the multi-node cluster."""

    def __init__(self, cluster: LocalRayCluster, max_replicas: int | None = None) -> None:
        import ray

        self.ray = ray
        self.cluster = cluster
        self.prefix = f"mn{uuid.uuid4().hex[:6]}-"
        host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
        self.host = host_cls.options(name=f"{self.prefix}api", namespace="wva", resources={HEAD_RESOURCE: 0.01}).remote(
            time.monotonic
        )
        specs = [
            VariantSpec(f"m{m}-{acc.lower()}", f"m{m}", acc, cost=cost, namespace="llm", max_replicas=max_replicas)
            for m in range(MODELS)
            for acc, cost in (("H100", 10.0), ("L40S", 3.0))
        ]
        ray.get([self.host.add_variant.remote(s) for s in specs])
        ray.get([self.host.set_load.remote(f"m{m}", 0.5, 0.0) for m in range(MODELS)])
        self.va_keys = {f"llm/{s.name}" for s in specs}
        self.groups = [ModelGroupRef("llm", f"m{m}") for m in range(MODELS)]
        options = CoordinatorOptions(
            shards=SHARDS,
            interval_s=INTERVAL_S,
            deadline_s=DEADLINE_S,
            metrics_port=0,
            metrics_address="127.0.0.1",
            head_resource=HEAD_RESOURCE,
        )
        wiring = MemoryWiring(self.host, direct=True, metrics_delay_s=METRICS_DELAY_S)
        self.rt: RayRuntime = start_ray_runtime(
            wiring, options, name_prefix=self.prefix, placement=ShardPlacement(resource=SHARD_RESOURCE)
        )

    def summaries(self) -> list[CycleSummary]:
        try:
            out: list[CycleSummary] = self.ray.get(self.rt.coordinator.summaries.remote(0), timeout=30)
        except Exception:
            return []
        return out

    def wait_cycles(self, n: int, timeout_s: float = 90.0) -> list[CycleSummary]:
        start = len(self.summaries())
        _wait(lambda: len(self.summaries()) >= start + n, timeout_s, f"{n} more cycles")
        return self.summaries()

    def wait_placed(self, timeout_s: float = 90.0) -> None:
        """Until the state API lists every actor alive on a node and every shard has answered a cycle (the
        dashboard lags behind the GCS on a loaded machine)."""
        names = {shard_actor_name(s, SHARDS, self.prefix) for s in range(SHARDS)}
        _wait(
            lambda: names <= set(self.cluster.actor_nodes(self.prefix)), timeout_s, "the state API to list the shards"
        )
        _wait(lambda: all(i.get("cycles", 0) >= 1 for i in self.shard_infos().values()), timeout_s, "a cycle per shard")

    def shard_infos(self) -> dict[str, dict[str, Any]]:
        out = {}
        for s, handle in enumerate(self.rt.shards):
            try:
                out[shard_actor_name(s, SHARDS, self.prefix)] = self.ray.get(handle.info.remote(), timeout=10)
            except Exception:
                out[shard_actor_name(s, SHARDS, self.prefix)] = {}
        return out

    def ownership(self) -> dict[str, dict[str, list[str]]]:
        """node name -> shard actor name -> model groups (state API for the node, the shard for its groups)."""
        nodes = self.cluster.actor_nodes(self.prefix)
        out: dict[str, dict[str, list[str]]] = {}
        for name, info in self.shard_infos().items():
            out.setdefault(nodes.get(name, "?"), {})[name] = info.get("groups", [])
        return out

    def writes(self) -> list[Any]:
        out: list[Any] = self.ray.get(self.host.__ray_call__.remote(lambda c: list(c.writes)), timeout=30)
        return out

    def metrics_url(self) -> str:
        info = self.ray.get(self.rt.coordinator.info.remote(), timeout=30)
        return f"http://127.0.0.1:{info['metrics_port']}/metrics"

    def close(self) -> None:
        stop_ray_runtime(self.rt)
        self.ray.kill(self.host, no_restart=True)


@pytest.fixture
def harness(multinode_cluster: LocalRayCluster) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**kw: Any) -> Harness:
        h = Harness(multinode_cluster, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


class GaugeWatch:
    """Scrapes the coordinator's /metrics every 0.2 s: which VA series are present, and when the publish counter
    moved."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scrapes: list[tuple[float, set[str], float]] = []  # (t, variant names of wva_desired_replicas, publishes)
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = urllib.request.urlopen(self.url, timeout=2).read().decode()
            except OSError:
                self.failures += 1
            else:
                names, publishes = set(), 0.0
                for line in text.splitlines():
                    if line.startswith("wva_desired_replicas{"):
                        names.add(line.split('variant_name="', 1)[1].split('"', 1)[0])
                    elif line.startswith("wva_publishes_total "):
                        publishes = float(line.split()[1])
                self.scrapes.append((time.monotonic(), names, publishes))
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def max_publish_gap_s(self) -> float:
        """Longest time between two scrapes that saw the publish counter move."""
        moves = [t for (t, _, p), (_, _, q) in zip(self.scrapes[1:], self.scrapes, strict=False) if p != q]
        return max((b - a for a, b in itertools.pairwise(moves)), default=0.0)


def _desired_series(writes: list[Any], key: str) -> list[int]:
    return [w.desired for w in writes if w.key == key]


def test_multinode_shards_spread_over_workers_and_the_state_api_says_who_owns_what(
    harness: Callable[..., Harness], multinode_cluster: LocalRayCluster
) -> None:
    h = harness()
    h.wait_cycles(2)
    h.wait_placed()
    nodes = multinode_cluster.actor_nodes(h.prefix)
    assert nodes[f"{h.prefix}wva-coordinator"] == "head"
    assert nodes[f"{h.prefix}api"] == "head"
    shard_nodes = {nodes[shard_actor_name(s, SHARDS, h.prefix)] for s in range(SHARDS)}
    assert shard_nodes == set(WORKERS), f"shards not spread over both workers: {nodes}"
    # the actor name says the groups: shard i of n owns rendezvous bucket i
    expected = assign(h.groups, SHARDS)
    infos = h.shard_infos()
    for s in range(SHARDS):
        got = infos[shard_actor_name(s, SHARDS, h.prefix)]["groups"]
        assert got == [f"{g.namespace}/{g.model_id}" for g in expected[s]]
    # the nodes say what they are for (custom resources in the state API)
    resources = {row["node_id"]: row["resources_total"] for row in multinode_cluster.live_nodes()}
    by_name = {name: resources[node_id] for node_id, name in multinode_cluster.node_names().items()}
    assert HEAD_RESOURCE in by_name["head"] and SHARD_RESOURCE not in by_name["head"]
    assert all(SHARD_RESOURCE in by_name[w] for w in WORKERS)
    print("ownership:", json.dumps(h.ownership(), indent=1))


def test_multinode_node_loss_mid_cycle_shards_come_back_no_decision_lost(
    harness: Callable[..., Harness], multinode_cluster: LocalRayCluster
) -> None:
    h = harness(max_replicas=30)
    h.wait_cycles(2)
    h.wait_placed()
    victim = WORKERS[0]
    owned = h.ownership()
    assert owned.get(victim), f"no shard on {victim}: {owned}"
    lost_groups = {g for groups in owned[victim].values() for g in groups}
    ramp = sorted(lost_groups)[0].split("/", 1)[1] if lost_groups else "m0"
    h.ray.get(h.host.set_load.remote(ramp, 0.95, 10.0))  # scales up one replica per cycle
    _wait(lambda: (h.ray.get(h.host.desired.remote("llm", f"{ramp}-l40s")) or 0) >= 3, 90, f"{ramp} to reach 3")
    watch = GaugeWatch(h.metrics_url())
    try:
        h.wait_cycles(2)
        last = h.summaries()[-1]
        # the next cycle opens INTERVAL_S after this one opened; kill while its shards are collecting metrics
        opened_wall_s = datetime.fromisoformat(last.at).timestamp()
        kill_at = opened_wall_s + INTERVAL_S * _cycles_ahead(opened_wall_s) + METRICS_DELAY_S / 2
        time.sleep(max(0.0, kill_at - time.time()))
        killed_wall_s = time.time()
        killed_mono = time.monotonic()
        multinode_cluster.kill_node(victim)
        kill_cycle = max(s.cycle for s in h.summaries())

        def recovered() -> bool:
            after = [s for s in h.summaries() if s.cycle > kill_cycle + 1]
            return bool(after) and after[-1].missing_shards == () and after[-1].held == ()

        _wait(recovered, 120, "every shard to answer again after the node loss")
        recovered_mono = time.monotonic()
        after_nodes = multinode_cluster.actor_nodes(h.prefix)
        shards_now = {after_nodes.get(shard_actor_name(s, SHARDS, h.prefix)) for s in range(SHARDS)}
        assert shards_now == {WORKERS[1]}, f"shards not all on the survivor: {after_nodes}"
        base = h.ray.get(h.host.desired.remote("llm", f"{ramp}-l40s")) or 0
        _wait(
            lambda: (h.ray.get(h.host.desired.remote("llm", f"{ramp}-l40s")) or 0) >= base + 2,
            90,
            f"{ramp} to keep scaling after the recovery",
        )
    finally:
        watch.stop()
    summaries = h.summaries()
    cycles = [s.cycle for s in summaries]
    assert cycles == list(range(cycles[0], cycles[-1] + 1)), f"a cycle was skipped: {cycles}"
    for s in summaries:
        assert set(s.desired) == h.va_keys, f"cycle {s.cycle} lost decisions: {sorted(h.va_keys - set(s.desired))}"
    plan = h.ray.get(h.rt.coordinator.last_plan.remote(), timeout=30)
    keys = [d.key for d in plan.decisions]
    assert len(keys) == len(set(keys)) == len(h.va_keys), "duplicated decisions in the plan"
    writes = h.writes()
    per_cycle = [(w.key, w.at) for w in writes]
    assert len(per_cycle) == len(set(per_cycle)), "a VA's status was written twice in one cycle"
    for acc in ("h100", "l40s"):
        series = _desired_series(writes, f"llm/{ramp}-{acc}")
        assert series == sorted(series), f"status of {ramp}-{acc} went backwards: {series}"
    steady = [w.desired for w in writes if not w.key.startswith(f"llm/{ramp}-")]
    assert set(steady) == {1}, f"a steady variant moved: {sorted(set(steady))}"
    held_cycles = [s for s in summaries if s.missing_shards and s.cycle >= kill_cycle]
    assert held_cycles, "the node loss never showed as late shards"
    victim_shards = {s for s in range(SHARDS) if shard_actor_name(s, SHARDS, h.prefix) in owned[victim]}
    buckets = assign(h.groups, SHARDS)
    assert any(set(s.missing_shards) & victim_shards for s in held_cycles), "the lost shards were never late"
    for s in summaries:  # a late shard (lost, or slow on a loaded host) never has its groups decided blind
        lost_models = {g.model_id for shard in s.missing_shards for g in buckets[shard]}
        must_hold = {k for k in h.va_keys if k.split("/", 1)[1].rsplit("-", 1)[0] in lost_models}
        assert must_hold <= set(s.held), f"cycle {s.cycle}: a lost group was decided without metrics"
    # gauges: every scrape after the first publish saw every VA's series
    scrapes = [(t, names) for t, names, p in watch.scrapes if p > 0]
    variant_names = {k.split("/", 1)[1] for k in h.va_keys}
    gaps = [t for t, names in scrapes if names != variant_names]
    assert not gaps, f"{len(gaps)} scrapes missed series during the node loss"
    figures = {
        "nodes": ["head", *WORKERS],
        "shards": SHARDS,
        "vas": len(h.va_keys),
        "interval_s": INTERVAL_S,
        "deadline_s": DEADLINE_S,
        "killed": victim,
        "kill_offset_in_cycle_s": round((killed_wall_s - opened_wall_s) % INTERVAL_S, 3),
        "time_to_recover_s": round(recovered_mono - killed_mono, 2),
        "cycles_with_held_groups": len(held_cycles),
        "late_shards_by_cycle": {s.cycle: list(s.missing_shards) for s in held_cycles},
        "max_publish_gap_s": round(watch.max_publish_gap_s(), 2),
        "scrapes": len(watch.scrapes),
        "scrape_failures": watch.failures,
        "load_average_1m": round(_load1(), 2),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "node_loss.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("node loss:", json.dumps(figures))
    assert figures["max_publish_gap_s"] < 10 * INTERVAL_S, figures  # a hang, not a timing check


def _cycles_ahead(opened_wall_s: float) -> int:
    """How many intervals ahead the next cycle opening still in the future is."""
    ahead = 1
    while opened_wall_s + INTERVAL_S * ahead < time.time() + 0.05:
        ahead += 1
    return ahead


def _load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
