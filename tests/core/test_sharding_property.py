"""The sharded path gives exactly `decide()`'s plan: for random snapshots and shard counts 1..8,
split -> per-shard propose -> merge -> finalize == decide (core.sharding)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.builders import V, snapshot
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide, propose
from wva_ray.core.analyzers.registry import ANALYZERS
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import ShardResult, finalize_shards, shard_units, split

NAMESPACES = ("a", "b")
MODELS = ("m1", "m2", "llama-3.1-8b")  # the last has built-in profiles (analyzer slo sizes it)
ACCELERATORS = ("H100", "H100", "A100", "L40S", None)
BUCKETS = ("short", "medium", "long")
ANALYZER_NAMES = sorted(ANALYZERS)  # every registered analyzer
pod = st.tuples(st.sampled_from([0.0, 0.3, 0.75, 0.85, 0.95]), st.sampled_from([0.0, 1.0, 4.0, 6.0, 20.0]))


@st.composite
def variant(draw: st.DrawFn, i: int) -> V:
    pods = [] if draw(st.integers(0, 4)) == 0 else draw(st.lists(pod, min_size=1, max_size=3))
    current = draw(st.none() | st.none() | st.integers(0, 4))
    return V(
        name=f"v{i}",
        pods=pods,
        namespace=draw(st.sampled_from(NAMESPACES)),
        model=draw(st.sampled_from(MODELS)),
        cost=draw(st.sampled_from(["5", "10", "10", "40", "40", "5", "10", "bad"])),
        accelerator=draw(st.sampled_from(ACCELERATORS)),
        current=current,
        ready=draw(st.none() | st.integers(0, 4)) if current is not None else None,
        desired=draw(st.none() | st.integers(0, 5)),
        since=draw(st.none() | st.sampled_from(["2026-11-27T11:59:00Z", "2026-11-27T11:00:00Z"])),
        min_replicas=draw(st.none() | st.integers(0, 2)),
        max_replicas=draw(st.none() | st.integers(1, 5)),
        priority=draw(st.none() | st.sampled_from([10, 100])),
        target=draw(st.sampled_from([None, None, None, None, "shared-0", "shared-1"])),  # shared: conflicts
        kv_tokens=draw(st.none() | st.sampled_from([16_000, 64_000])),
        avg_in=draw(st.sampled_from([None, 200.0, 1500.0])),
        avg_out=draw(st.sampled_from([None, 50.0, 300.0, 800.0])),
        with_target=draw(st.integers(0, 5)) > 0,
        arrival_rate=draw(st.sampled_from([None, 0.5, 4.0, 30.0])),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    n = draw(st.integers(1, 8))
    variants = [draw(variant(i)) for i in range(n)]
    default: dict[str, Any] = {"analyzerName": draw(st.sampled_from(ANALYZER_NAMES))}
    limiter = draw(st.booleans())
    if limiter:
        default["enableLimiter"] = True
    saturation: dict[str, Any] = {"default": default}
    if draw(st.booleans()):  # a per-model override, sometimes invalid (a group warning)
        saturation["o1"] = {
            "model_id": draw(st.sampled_from(MODELS)),
            "analyzerName": draw(st.sampled_from(ANALYZER_NAMES)),
            "kvCacheThreshold": draw(st.sampled_from([0.7, 1.5])),
        }
    scale_to_zero = {"default": {"enable_scale_to_zero": True}} if draw(st.booleans()) else {}
    extra: dict[str, Any] = {"config": {"saturation": saturation, "scaleToZero": scale_to_zero}}
    if limiter or draw(st.booleans()):
        extra["gpuAvailable"] = {"H100": draw(st.integers(0, 3)), "A100": draw(st.integers(0, 3))}
    groups = sorted({(v.namespace, v.model) for v in variants})
    extra["requestCounts"] = [
        {"namespace": ns, "modelName": m, "count": draw(st.sampled_from([0.0, 12.0]))}
        for ns, m in groups
        if draw(st.booleans())
    ]
    extra["state"] = {
        "capacityHistory": {
            f"{m}|{acc}|{b}": [float(draw(st.integers(1_000, 30_000)))]
            for m in MODELS
            for acc in ("H100", "A100")
            for b in BUCKETS
            if draw(st.integers(0, 5)) == 0
        }
    }
    if draw(st.integers(0, 6)) == 0:
        extra["metricsError"] = "prometheus: connection refused"
    return snapshot(*variants, **extra)


def sharded(snap: Snapshot, shards: int) -> Plan:
    results = [
        ShardResult(part.groups, propose(part.snapshot, snap.now) if part.groups else None, part.snapshot.metrics_error)
        for part in split(snap, shards).values()
    ]
    return finalize_shards(snap, results, [], snap.now)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=snapshots(), shards=st.integers(1, 8))
def test_sharded_path_gives_exactly_decides_plan(snap: Snapshot, shards: int) -> None:
    # Equal values: every decision, condition, step, warning (in order) and state entry. Only the insertion order
    # of new keys in the state maps may differ (maps, not lists: the order carries nothing).
    assert sharded(snap, shards) == decide(snap)


@pytest.mark.parametrize(
    ("variants", "joined"),
    [
        pytest.param([V("x", model="m1", namespace="a"), V("y", model="m1", namespace="b")], True, id="one-model"),
        pytest.param([V("x", model="m1", target="t"), V("y", model="m2", target="t")], True, id="one-workload"),
        pytest.param([V("x", model="m1"), V("y", model="m2")], False, id="independent"),
    ],
)
def test_groups_that_depend_on_each_other_share_a_unit(variants: list[V], joined: bool) -> None:
    units = shard_units(snapshot(*variants))
    assert (len(units) == 1) is joined
    assert sorted(g for u in units for g in u) == sorted({ModelGroupRef(v.namespace, v.model) for v in variants})
