"""Unit tests of the cheapest-first multi-variant rules and of WvaMultiVariantPolicy on real Serve contexts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.contexts import NOW_S, fresh, make_ctx
from wva_ray.api.config import BUILTIN_SATURATION
from wva_ray.serve.app_policy import WvaMultiVariantPolicy
from wva_ray.serve.multi_variant import VariantInput, decide_variants
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView

HOT = (0.95, 0.0)
IDLE = (0.0, 0.0)


def v(
    name: str,
    cost: float,
    pods: list[tuple[float, float]],
    *,
    target: int | None = None,
    running: int | None = None,
    lo: int = 1,
    hi: int = 8,
) -> VariantInput:
    current = len(pods) if running is None else running
    view = DeploymentView(NOW_S, current, current if target is None else target, lo, hi)
    return VariantInput(name, cost, view, DeploymentPolicyState(), tuple(pods))


def _targets(variants: list[VariantInput]) -> dict[str, tuple[int, str]]:
    out = decide_variants(variants, BUILTIN_SATURATION, 600.0)
    return {name: (d.desired, d.reason.value) for name, d in sorted(out.items())}


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        pytest.param(
            [v("h100", 30, [HOT]), v("a100", 12, [HOT])],
            {"a100": (2, "ScaleUp"), "h100": (1, "Steady")},
            id="scale-up-goes-to-cheapest",
        ),
        pytest.param(
            [v("h100", 30, [HOT]), v("a100", 12, [HOT], hi=1)],
            {"a100": (1, "Steady"), "h100": (2, "ScaleUp")},
            id="cheapest-at-max-skipped",
        ),
        pytest.param(
            [v("b", 10, [HOT]), v("a", 10, [HOT])],
            {"a": (2, "ScaleUp"), "b": (1, "Steady")},
            id="cost-tie-name-ascending",
        ),
        pytest.param(
            [v("h100", 30, [IDLE, IDLE]), v("a100", 12, [IDLE, IDLE])],
            {"a100": (2, "Steady"), "h100": (1, "ScaleDown")},
            id="scale-down-from-most-expensive",
        ),
        pytest.param(
            [v("h100", 30, [IDLE]), v("a100", 12, [IDLE, IDLE])],
            {"a100": (1, "ScaleDown"), "h100": (1, "Steady")},
            id="most-expensive-at-one-skipped",
        ),
        pytest.param(
            [v("h100", 30, [HOT]), v("l40s", 5, [], lo=0)],
            {"h100": (1, "Steady"), "l40s": (1, "ScaleUp")},
            id="idle-cheapest-variant-at-zero-scales-from-zero",
        ),
        pytest.param(
            [v("h100", 30, [HOT], target=2), v("a100", 12, [HOT])],
            {"a100": (1, "TransitionInProgress"), "h100": (2, "TransitionInProgress")},
            id="one-variant-in-transition-locks-the-model",
        ),
        pytest.param(
            [v("h100", 30, [IDLE], running=2), v("a100", 12, [HOT])],
            {"a100": (1, "TransitionInProgress"), "h100": (2, "MetricsPartial")},
            id="partial-metrics-lock-the-model",
        ),
        pytest.param(
            [v("h100", 30, [], running=1), v("a100", 12, [HOT])],
            {"a100": (2, "ScaleUp"), "h100": (1, "MetricsMissing")},
            id="silent-variant-held-alone",
        ),
        pytest.param(
            [v("h100", 30, [], running=1), v("a100", 12, [], running=1)],
            {"a100": (1, "MetricsMissing"), "h100": (1, "MetricsMissing")},
            id="no-metrics-anywhere-holds",
        ),
        pytest.param(
            [v("h100", 30, [], lo=0), v("a100", 12, [], lo=0)],
            {"a100": (1, "MinOneReplica"), "h100": (0, "MetricsMissing")},
            id="all-zero-cheapest-gets-one",
        ),
    ],
)
def test_cheapest_first_table(variants: list[VariantInput], expected: dict[str, tuple[int, str]]) -> None:
    assert _targets(variants) == expected


def _contexts(spec: dict[str, list[tuple[float, float]]], **kw: Any) -> dict[Any, Any]:
    out = {}
    for name, pods in spec.items():
        ctx = make_ctx({f"{name}-{i}": fresh(*p) for i, p in enumerate(pods)}, deployment=name, **kw)
        out[ctx.deployment_id] = ctx
    return out


def test_app_policy_returns_per_deployment_ids_and_states() -> None:
    policy = WvaMultiVariantPolicy(variant_costs={"h100": 30.0, "a100": 12.0})
    contexts = _contexts({"h100": [HOT], "a100": [HOT], "router": [IDLE]})
    replicas, states = policy(contexts)
    by_name = {dep.name: n for dep, n in replicas.items()}
    assert by_name == {"h100": 1, "a100": 2}  # the router is not a variant: left to Serve
    assert {dep.name: s["wva_last_reason"] for dep, s in states.items()} == {"h100": "Steady", "a100": "ScaleUp"}
    assert all(dep in contexts for dep in replicas)


def test_app_policy_without_costs_treats_all_deployments_as_equal_cost_variants() -> None:
    replicas, _ = WvaMultiVariantPolicy()(_contexts({"b": [HOT], "a": [HOT]}))
    assert {dep.name: n for dep, n in replicas.items()} == {"a": 2, "b": 1}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        pytest.param({"variant_costs": {"h100": -1}}, "variant_costs.h100", id="negative-cost"),
        pytest.param({"variant_costs": {"h100": "cheap"}}, "variant_costs.h100", id="string-cost"),
        pytest.param({"variant_costs": ["h100"]}, "variant_costs", id="not-a-mapping"),
        pytest.param({"mode": "coordinator"}, "policy_kwargs.mode", id="coordinator-mode-refused"),
    ],
)
def test_app_policy_invalid_kwargs(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError) as err:
        WvaMultiVariantPolicy(**kwargs)
    assert needle in str(err.value)
