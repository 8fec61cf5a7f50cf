"""Global allocation (wva-behaviour.md 3.5): free GPUs, budgets, order, whole replicas, spillover."""

from __future__ import annotations

import pytest

from tests.core.builders import V, saturation, snapshot
from wva_ray.core import decide
from wva_ray.core.allocation import Budget, Proposal, allocate

HOT = [(0.75, 2), (0.75, 2)]


def desired(*variants: V, **extra: object) -> dict[str, int]:
    return {d.name: d.desired_replicas for d in decide(snapshot(*variants, **extra)).decisions}


def P(key: str, acc: str, current: int, want: int, **kw: object) -> Proposal:
    return Proposal(
        key=key,
        group=kw.pop("group", key),
        name=key,
        accelerator=acc,
        gpus_per_replica=kw.pop("gpr", 1),
        current=current,
        desired=want,
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("proposals", "budget", "expected"),
    [
        pytest.param([P("a", "H100", 1, 3)], Budget(free_gpus={"H100": 1}), {"a": 2}, id="free-gpus-cap"),
        pytest.param([P("a", "H100", 1, 3)], Budget(free_gpus=None), {"a": 3}, id="unlimited"),
        pytest.param([P("a", "H100", 1, 3)], Budget(free_gpus={}), {"a": 1}, id="unknown-type-has-none"),
        pytest.param([P("a", "H100", 1, 3, gpr=4)], Budget(free_gpus={"H100": 7}), {"a": 2}, id="whole-replicas"),
        pytest.param([P("a", "H100", 5, 2)], Budget(free_gpus={"H100": 0}), {"a": 2}, id="scale-down-unlimited"),
        pytest.param(
            [P("a", "H100", 1, 3, priority=200), P("b", "H100", 1, 3, priority=10)],
            Budget(free_gpus={"H100": 2}),
            {"a": 1, "b": 3},
            id="priority-first",
        ),
        pytest.param(
            [P("a", "H100", 1, 2, spare_ratio=0.3), P("b", "H100", 1, 2, spare_ratio=0.01)],
            Budget(free_gpus={"H100": 1}),
            {"a": 1, "b": 2},
            id="least-spare-next",
        ),
        pytest.param(
            [P("a", "H100", 1, 2, cost_per_capacity=9), P("b", "H100", 1, 2, cost_per_capacity=1)],
            Budget(free_gpus={"H100": 1}),
            {"a": 1, "b": 2},
            id="cost-per-capacity-next",
        ),
        pytest.param([P("a", "H100", 2, 5)], Budget(free_gpus=None, gpu_budget={"H100": 3}), {"a": 3}, id="gpu-budget"),
        pytest.param(
            [P("a", "H100", 1, 5)],
            Budget(free_gpus=None, power_budget_watts=2100, accelerator_watts={"H100": 700}),
            {"a": 3},
            id="power-budget",
        ),
        pytest.param(
            [P("a", "H100", 1, 4, group="m", cost=5), P("b", "A100", 1, 1, group="m", cost=9)],
            Budget(free_gpus={"H100": 1, "A100": 5}),
            {"a": 2, "b": 3},
            id="spillover-same-model",
        ),
        pytest.param(
            [P("a", "H100", 1, 4, group="m"), P("b", "A100", 1, 1, group="other")],
            Budget(free_gpus={"H100": 1, "A100": 5}),
            {"a": 2, "b": 1},
            id="no-spillover-across-models",
        ),
        pytest.param([P("a", "H100", 1, 3)], Budget(free_gpus=None, block_scale_ups=True), {"a": 1}, id="fail-closed"),
    ],
)
def test_allocate(proposals: list[Proposal], budget: Budget, expected: dict[str, int]) -> None:
    assert {k: g.desired for k, g in allocate(proposals, budget).items()} == expected


def test_limiter_off_ignores_inventory() -> None:
    assert desired(V("a", HOT), gpu_available={"H100": 0}) == {"a": 3}


def test_limiter_on_limits_and_reports() -> None:
    plan = decide(snapshot(V("a", HOT), config=saturation(enableLimiter=True), gpu_available={"H100": 0}))
    d = plan.decisions[0]
    assert d.desired_replicas == 2 and d.limited
    ready = next(c for c in d.conditions if c.type == "OptimizationReady")
    assert ready.reason == "Limited" and "short by 1" in ready.message


def test_inventory_failure_fails_open_by_default() -> None:
    got = desired(V("a", HOT), config=saturation(enableLimiter=True), gpu_inventory_error="nodes: forbidden")
    assert got == {"a": 3}


def test_inventory_failure_closed_blocks_scale_ups() -> None:
    cfg = saturation(enableLimiter=True, limiterFailureMode="closed")
    assert desired(V("a", HOT), config=cfg, gpu_inventory_error="nodes: forbidden") == {"a": 2}


def test_budget_alone_turns_allocation_on() -> None:
    assert desired(V("a", HOT), config=saturation(gpuBudget={"H100": 2})) == {"a": 2}
