"""Invariants of the per-deployment and multi-variant steps, over generated inputs (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.serve.contexts import NOW_S
from wva_ray.api.config import BUILTIN_SATURATION
from wva_ray.serve.multi_variant import VariantInput, decide_variants
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView, Reason
from wva_ray.serve.step import decide_step

pods_st = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 50)), max_size=12)


@st.composite
def views(draw: st.DrawFn, pods: list[tuple[float, float]]) -> DeploymentView:
    lo = draw(st.integers(0, 3))
    hi = draw(st.integers(max(lo, 1), 12))
    current = draw(st.sampled_from([len(pods), len(pods) + 1, max(0, len(pods) - 1)]))
    target = draw(st.sampled_from([current, current + 1, max(0, current - 1)]))
    return DeploymentView(NOW_S, current, target, lo, hi)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), pods=pods_st, started_ago_s=st.none() | st.floats(0, 1200))
def test_step_moves_at_most_one_replica_within_bounds(
    data: st.DataObject, pods: list[tuple[float, float]], started_ago_s: float | None
) -> None:
    view = data.draw(views(pods))
    state = DeploymentPolicyState(None if started_ago_s is None else NOW_S - started_ago_s)
    d = decide_step(view, tuple(pods), state, BUILTIN_SATURATION, 600.0)
    if d.reason is Reason.TRANSITION_TIMED_OUT:
        assert d.desired == view.clamp(view.current)
    elif d.reason in (Reason.SCALE_UP, Reason.SCALE_DOWN):
        step = 1 if d.reason is Reason.SCALE_UP else -1
        assert d.desired == view.clamp(view.target + step)  # one step, or straight to a bound that moved
        assert d.desired >= 1
    else:
        assert d.desired == view.target  # every other answer holds Serve's target


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(st.tuples(st.floats(0, 100), pods_st, st.integers(0, 3), st.integers(3, 8)), min_size=1, max_size=4)
)
def test_multi_variant_changes_at_most_one_variant_by_one(
    specs: list[tuple[float, list[tuple[float, float]], int, int]],
) -> None:
    variants = [
        VariantInput(f"v{i}", cost, DeploymentView(NOW_S, len(p), len(p), lo, hi), DeploymentPolicyState(), tuple(p))
        for i, (cost, p, lo, hi) in enumerate(specs)
    ]
    out = decide_variants(variants, BUILTIN_SATURATION, 600.0)
    moved = [v for v in variants if out[v.name].desired != v.view.target]
    floor = [v for v in moved if out[v.name].reason is Reason.MIN_ONE_REPLICA]
    assert len(moved) - len(floor) <= 1
    for v in moved:
        if v not in floor:
            assert abs(out[v.name].desired - v.view.target) == 1
    assert sum(d.desired for d in out.values()) >= 1
