"""Invariants of the pipeline, checked with Hypothesis on generated clusters."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.builders import V, snapshot, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide
from wva_ray.core.allocation import Budget, Proposal, allocate

ACCS = ["H100", "A100", "L40S"]
signal = st.tuples(st.floats(0, 1), st.integers(0, 12).map(float))


@st.composite
def variants(draw: st.DrawFn, max_variants: int = 4) -> list[V]:
    n = draw(st.integers(1, max_variants))
    out = []
    for i in range(n):
        pods = draw(st.lists(signal, min_size=0, max_size=4))
        lo = draw(st.none() | st.integers(0, 3))
        hi = draw(st.none() | st.integers(max(lo or 1, 1), 6))
        out.append(
            V(
                f"v{i}",
                pods,
                model=draw(st.sampled_from(["m1", "m2"])),
                cost=str(draw(st.integers(1, 30))),
                accelerator=draw(st.sampled_from(ACCS)),
                current=draw(st.none() | st.integers(0, 5)),
                desired=draw(st.none() | st.integers(0, 6)),
                min_replicas=lo,
                max_replicas=hi,
                priority=draw(st.none() | st.integers(0, 1000)),
                gpus=draw(st.integers(1, 4)),
                kv_tokens=draw(st.none() | st.integers(1000, 50000)),
                avg_in=draw(st.none() | st.floats(0, 4000)),
                avg_out=draw(st.none() | st.floats(0, 1000)),
            )
        )
    return out


def config(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "saturation": {
            "default": {
                "analyzerName": draw(st.sampled_from(["", "saturation"])),
                "enableLimiter": draw(st.booleans()),
            }
        }
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vs=variants(), data=st.data())
def test_min_max_always_hold_for_acted_variants(vs: list[V], data: st.DataObject) -> None:
    plan = decide(snapshot(*vs, config=config(data.draw)))
    by_name = {v.name: v for v in vs}
    for d in plan.decisions:
        v = by_name[d.name]
        assert d.desired_replicas >= 0
        if d.held:
            continue
        if v.min_replicas is not None and not d.limited:
            assert d.desired_replicas >= v.min_replicas
        if v.max_replicas is not None:
            assert d.desired_replicas <= v.max_replicas


@settings(max_examples=150, deadline=None)
@given(vs=variants(), data=st.data())
def test_same_input_same_plan(vs: list[V], data: st.DataObject) -> None:
    snap = snapshot(*vs, config=config(data.draw))
    assert decide(snap) == decide(snap)
    # and the order of VAs in the input does not matter
    reordered = snapshot(*reversed(vs), config=snap.config.model_dump(by_alias=True))
    assert decide(reordered).decisions == decide(snap).decisions


@settings(max_examples=200, deadline=None)
@given(
    vs=variants(),
    free=st.dictionaries(st.sampled_from(ACCS), st.integers(0, 10)),
    gpu_budget=st.dictionaries(st.sampled_from(ACCS), st.integers(0, 20)),
    power=st.none() | st.floats(0, 20000),
)
def test_allocation_never_exceeds_any_budget(
    vs: list[V], free: dict[str, int], gpu_budget: dict[str, int], power: float | None
) -> None:
    cfg: dict[str, Any] = {"enableLimiter": True, "gpuBudget": gpu_budget}
    if power is not None:
        cfg["powerBudgetWatts"] = power
    plan = decide(snapshot(*vs, config={"saturation": {"default": cfg}}, gpu_available=free))
    watts = {"H100": 700.0, "A100": 400.0, "L40S": 350.0}
    added: dict[str, int] = {}
    used: dict[str, int] = {}
    added_w = 0.0
    used_w = 0.0
    for d in plan.decisions:
        used[d.accelerator] = used.get(d.accelerator, 0) + d.current_replicas * d.gpus_per_replica
        used_w += d.current_replicas * d.gpus_per_replica * watts[d.accelerator]
        if d.desired_replicas > d.current_replicas and not d.held:
            gpus = (d.desired_replicas - d.current_replicas) * d.gpus_per_replica
            added[d.accelerator] = added.get(d.accelerator, 0) + gpus
            added_w += gpus * watts[d.accelerator]
    for acc, gpus in added.items():
        assert gpus <= free.get(acc, 0)
        if acc in gpu_budget:
            assert gpus <= max(0, gpu_budget[acc] - used[acc])
    if power is not None:
        assert added_w <= max(0.0, power - used_w) + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    pods=st.lists(signal, min_size=1, max_size=6),
    bump=st.lists(st.tuples(st.floats(0, 0.5), st.integers(0, 5).map(float)), min_size=6, max_size=6),
)
def test_v1_more_load_never_fewer_replicas(pods: list[tuple[float, float]], bump: list[tuple[float, float]]) -> None:
    """With monotoneSpare: always. With upstream's formula: whenever no pod crosses into saturation."""
    heavier = [(min(1.0, kv + dk), q + dq) for (kv, q), (dk, dq) in zip(pods, bump, strict=False)]
    mono = {"saturation": {"default": {"monotoneSpare": True}}}
    light = decide(snapshot(V("a", pods), config=mono)).decisions[0].desired_replicas
    heavy = decide(snapshot(V("a", heavier), config=mono)).decisions[0].desired_replicas
    assert heavy >= light

    def saturated(p: list[tuple[float, float]]) -> list[bool]:
        return [kv >= 0.8 or q >= 5 for kv, q in p]

    if saturated(pods) == saturated(heavier):
        light = decide(snapshot(V("a", pods))).decisions[0].desired_replicas
        heavy = decide(snapshot(V("a", heavier))).decisions[0].desired_replicas
        assert heavy >= light


def test_upstream_v1_formula_is_not_monotone_known_counterexample() -> None:
    """Found by the property above: the second pod saturating removes it from the average and cancels the
    scale-up. Kept as a record of upstream's behaviour (the default) and of what monotoneSpare changes."""
    light = [(0.0, 4.0), (0.0, 1.0)]
    heavy = [(0.0, 5.0), (0.0, 1.0)]
    assert decide(snapshot(V("a", light))).decisions[0].desired_replicas == 3
    assert decide(snapshot(V("a", heavy))).decisions[0].desired_replicas == 2
    mono = {"saturation": {"default": {"monotoneSpare": True}}}
    assert decide(snapshot(V("a", heavy), config=mono)).decisions[0].desired_replicas == 3


weird = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 1e-308, 5.0, 1.0])


@settings(max_examples=200, deadline=None)
@given(
    kv=st.lists(weird, min_size=2, max_size=2),
    q=st.lists(weird, min_size=2, max_size=2),
    extra=st.lists(weird, min_size=3, max_size=3),
    analyzer=st.sampled_from(["", "saturation"]),
)
def test_weird_metric_values_never_crash(kv: list[float], q: list[float], extra: list[float], analyzer: str) -> None:
    data = snapshot_dict(
        V("a", [(0.5, 1), (0.5, 1)], kv_tokens=16000, avg_in=100, avg_out=10),
        config={"saturation": {"default": {"analyzerName": analyzer}}},
    )
    for row, k, qq in zip(data["metrics"], kv, q, strict=True):
        row["kvCacheUsage"], row["queueLength"] = k, qq
        row["avgInputTokens"], row["avgOutputTokens"] = extra[0], extra[1]
    plan = decide(Snapshot.model_validate(data))
    assert all(d.desired_replicas >= 0 for d in plan.decisions)


@settings(max_examples=200, deadline=None)
@given(
    props=st.lists(
        st.tuples(
            st.sampled_from(ACCS),
            st.integers(1, 4),
            st.integers(0, 5),
            st.integers(0, 9),
            st.integers(0, 3),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=8,
    ),
    free=st.dictionaries(st.sampled_from(ACCS), st.integers(0, 12)),
)
def test_allocate_grants_are_whole_and_within_free(
    props: list[tuple[str, int, int, int, int, int]], free: dict[str, int]
) -> None:
    proposals = [
        Proposal(
            key=f"p{i}",
            group=f"g{g}",
            name=f"p{i}",
            accelerator=acc,
            gpus_per_replica=gpr,
            current=cur,
            desired=want,
            priority=prio,
        )
        for i, (acc, gpr, cur, want, g, prio) in enumerate(props)
    ]
    grants = allocate(proposals, Budget(free_gpus=free))
    spent: dict[str, int] = {}
    for p in proposals:
        g = grants[p.key]
        # scale-downs are never limited (spillover may only add to them); scale-ups never go below current
        assert g.desired >= (p.desired if p.desired <= p.current else p.current)
        spent[p.accelerator] = spent.get(p.accelerator, 0) + max(0, g.desired - p.current) * p.gpus_per_replica
    for acc, gpus in spent.items():
        assert gpus <= free.get(acc, 0)
