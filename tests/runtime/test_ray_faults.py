"""Fault tests with real Ray: shard and coordinator kills, metrics outage. Marker `integration`.

Each test hosts a `MemoryCluster` in a Ray actor (the in-memory API server), starts one coordinator and two
shard actors with a short interval, injects the fault and checks the published decisions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wva_ray.runtime.coordinator_actor import CoordinatorOptions, CycleSummary
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

INTERVAL_S = 1.0
MODELS = 6


def _wait(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Harness:
    def __init__(self, max_replicas: int | None = None) -> None:
        import ray

        from wva_ray.runtime.launch import start_ray_runtime

        self.ray = ray
        prefix = f"t{uuid.uuid4().hex[:6]}-"
        host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
        self.cluster = host_cls.options(name=f"{prefix}cluster", namespace="wva").remote(time.monotonic)
        specs = [
            VariantSpec(f"m{m}-{acc.lower()}", f"m{m}", acc, cost=cost, namespace="llm", max_replicas=max_replicas)
            for m in range(MODELS)
            for acc, cost in (("H100", 10.0), ("L40S", 3.0))
        ]
        ray.get([self.cluster.add_variant.remote(s) for s in specs])
        ray.get([self.cluster.set_load.remote(f"m{m}", 0.5, 0.0) for m in range(MODELS)])
        self.options = CoordinatorOptions(shards=2, interval_s=INTERVAL_S, deadline_s=0.5)
        self.rt = start_ray_runtime(MemoryWiring(self.cluster, direct=True), self.options, name_prefix=prefix)

    def summaries(self) -> list[CycleSummary]:
        out: list[CycleSummary] = self.ray.get(self.rt.coordinator.summaries.remote(0), timeout=30)
        return out

    def wait_cycles(self, n: int, timeout_s: float = 60.0) -> list[CycleSummary]:
        start = len(_summaries_or_empty(self))
        _wait(lambda: len(_summaries_or_empty(self)) >= start + n, timeout_s, f"{n} more cycles")
        return self.summaries()

    def writes(self) -> list[Any]:
        out: list[Any] = self.ray.get(self.cluster.__ray_call__.remote(lambda c: list(c.writes)), timeout=30)
        return out

    def close(self) -> None:
        from wva_ray.runtime.launch import stop_ray_runtime

        stop_ray_runtime(self.rt)
        self.ray.kill(self.cluster, no_restart=True)


@pytest.fixture
def harness(ray_session: None) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**kw: Any) -> Harness:
        h = Harness(**kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def _desired_series(writes: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for w in writes:
        out.setdefault(w.key, []).append(w.desired)
    return out


def test_killed_shard_restarts_and_its_groups_do_not_flap(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.wait_cycles(3)
    shard0 = h.rt.shards[0]
    before = h.ray.get(shard0.info.remote(), timeout=30)
    h.ray.kill(shard0, no_restart=False)
    _wait(
        lambda: _safe_info(h, shard0).get("pid") not in (None, before["pid"]),
        60,
        "shard 0 to restart",
    )
    after_restart = len(h.summaries())
    summaries = h.wait_cycles(4)
    assert _safe_info(h, shard0)["cycles"] >= 2, "restarted shard does not take part in cycles"
    # no flap: every published desired value stayed at its steady value through the kill
    for s in summaries:
        assert set(s.desired.values()) == {1}, s
    # the restarted shard's groups are decided again (not held) in the last cycles
    for s in summaries[after_restart + 2 :]:
        assert s.missing_shards == () and s.held == (), s
    # the published desired count never changed (conditions may have been rewritten while held)
    assert all(set(series) == {1} for series in _desired_series(h.writes()).values())


def _safe_info(h: Harness, actor: Any) -> dict[str, Any]:
    try:
        info: dict[str, Any] = h.ray.get(actor.info.remote(), timeout=5)
        return info
    except Exception:
        return {}


def test_killed_coordinator_restarts_publishes_within_an_interval_and_status_never_goes_back(
    harness: Callable[..., Harness],
) -> None:
    h = harness(max_replicas=6)
    h.ray.get(h.cluster.set_load.remote("m0", 0.95, 10.0))  # m0 scales up one replica per cycle
    _wait(lambda: (h.ray.get(h.cluster.desired.remote("llm", "m0-l40s")) or 0) >= 3, 60, "m0 to reach 3")
    old = h.ray.get(h.rt.coordinator.info.remote(), timeout=30)
    h.ray.kill(h.rt.coordinator, no_restart=False)
    _wait(lambda: _safe_info(h, h.rt.coordinator).get("epoch") not in (None, old["epoch"]), 60, "restart")
    back_at = time.monotonic()
    _wait(lambda: len(_summaries_or_empty(h)) >= 1, 30, "first cycle of the new coordinator")
    first_cycle_s = time.monotonic() - back_at
    print(f"first cycle of the restarted coordinator after {first_cycle_s:.2f} s (interval {INTERVAL_S} s)")
    assert first_cycle_s <= INTERVAL_S + 10.0  # generous: a loaded 2-core machine; the figure is printed
    _wait(lambda: (h.ray.get(h.cluster.desired.remote("llm", "m0-l40s")) or 0) >= 5, 60, "m0 to continue")
    series = _desired_series(h.writes())["llm/m0-l40s"]
    assert series == sorted(series), f"status went backwards: {series}"
    assert all(set(v) == {1} for k, v in _desired_series(h.writes()).items() if not k.startswith("llm/m0-"))


def _summaries_or_empty(h: Harness) -> list[CycleSummary]:
    try:
        return h.summaries()
    except Exception:
        return []


def test_metrics_outage_holds_decisions(harness: Callable[..., Harness]) -> None:
    h = harness(max_replicas=3)
    h.ray.get(h.cluster.set_load.remote("m1", 0.95, 10.0))
    _wait(lambda: (h.ray.get(h.cluster.desired.remote("llm", "m1-l40s")) or 0) >= 2, 60, "m1 to scale up")
    h.ray.get(h.cluster.set_metrics_outage.remote(True))
    h.ray.get(h.cluster.set_load.remote("m1", 0.0, 0.0))  # would scale down if it were read
    seen = len(h.summaries())
    summaries = h.wait_cycles(3)[seen + 1 :]
    frozen = summaries[0].desired
    for s in summaries:
        assert s.desired == frozen, "a decision moved during the outage"
        assert set(s.held) == set(s.desired), "not every variant was held during the outage"
    h.ray.get(h.cluster.set_metrics_outage.remote(False))
    _wait(lambda: h.summaries()[-1].held == (), 30, "decisions to resume after the outage")
