"""Unit tests of WvaSaturationPolicy in mode `replica_stats`, on real Serve AutoscalingContext objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.contexts import KV, NOW_S, QUEUE, fresh, make_ctx, series
from wva_ray.serve.policy import WvaSaturationPolicy
from wva_ray.serve.state import DeploymentPolicyState, Reason

IDLE = fresh(0.0, 0.0)
HOT = fresh(0.95, 0.0)


def _run(ctx: Any, **kwargs: Any) -> tuple[int, Reason, dict[str, Any]]:
    policy = WvaSaturationPolicy(**kwargs)
    desired, state = policy(ctx)
    return desired, Reason(state["wva_last_reason"]), state


@pytest.mark.parametrize(
    ("replicas", "ctx_kwargs", "expected", "reason"),
    [
        pytest.param({"a": HOT}, {}, 2, Reason.SCALE_UP, id="kv-saturated-single-replica-scales-up"),
        pytest.param({"a": fresh(0.3, 3), "b": fresh(0.3, 3)}, {}, 3, Reason.SCALE_UP, id="queue-spare-below-trigger"),
        pytest.param({"a": fresh(0.75, 0), "b": fresh(0.75, 0)}, {}, 3, Reason.SCALE_UP, id="kv-spare-below-trigger"),
        pytest.param({"a": IDLE, "b": IDLE, "c": IDLE}, {}, 2, Reason.SCALE_DOWN, id="idle-scales-down-one-step"),
        pytest.param({"a": fresh(0.5, 0), "b": fresh(0.5, 0)}, {}, 2, Reason.STEADY, id="scale-down-unsafe-holds"),
        pytest.param({"a": HOT}, {"max_replicas": 1}, 1, Reason.AT_MAX, id="at-max-holds"),
        pytest.param({"a": IDLE, "b": IDLE}, {"min_replicas": 2}, 2, Reason.STEADY, id="at-min-holds"),
        pytest.param({"a": IDLE}, {}, 1, Reason.STEADY, id="single-idle-replica-never-below-one"),
        pytest.param({"a": HOT, "b": HOT}, {"target": 3}, 3, Reason.TRANSITION, id="scale-up-in-flight-holds"),
        pytest.param({}, {"running": ["a", "b"]}, 2, Reason.METRICS_MISSING, id="no-metrics-holds-not-zero"),
        pytest.param(
            {"a": IDLE, "b": IDLE, "c": IDLE},
            {"running": ["a", "b", "c", "d"]},
            4,
            Reason.METRICS_PARTIAL,
            id="new-replica-not-reporting-holds",
        ),
        pytest.param({}, {"running": [], "target": 1}, 1, Reason.NO_RUNNING_REPLICAS, id="cold-start-left-to-serve"),
    ],
)
def test_decision_table(replicas: dict[str, Any], ctx_kwargs: dict[str, Any], expected: int, reason: Reason) -> None:
    desired, got_reason, _ = _run(make_ctx(replicas, **ctx_kwargs))
    assert (desired, got_reason) == (expected, reason)


def test_stale_samples_are_missing_not_zero() -> None:
    stale = {KV: series((40.0, 0.0)), QUEUE: series((40.0, 0.0))}
    ctx = make_ctx({"a": stale, "b": stale, "c": stale}, look_back_period_s=60)
    desired, reason, _ = _run(ctx, max_metric_age_s=30)
    assert (desired, reason) == (3, Reason.METRICS_MISSING)


def test_nan_and_inf_samples_are_dropped() -> None:
    bad = {KV: series((1.0, float("nan"))), QUEUE: series((1.0, float("inf")))}
    desired, reason, _ = _run(make_ctx({"a": bad, "b": bad}))
    assert (desired, reason) == (2, Reason.METRICS_MISSING)


def test_only_running_replicas_count() -> None:
    """A stopped replica's series (still in the metrics) must not make the deployment scale up."""
    ctx = make_ctx({"a": IDLE, "b": IDLE, "gone": HOT}, running=["a", "b"])
    desired, reason, _ = _run(ctx)
    assert (desired, reason) == (1, Reason.SCALE_DOWN)


def test_window_max_aggregation_and_window_edge() -> None:
    peak_inside = {KV: series((5.0, 0.95), (1.0, 0.0)), QUEUE: series((1.0, 0.0))}
    assert _run(make_ctx({"a": peak_inside}), signal_window_s=10)[:2] == (2, Reason.SCALE_UP)
    assert _run(make_ctx({"a": peak_inside}), signal_window_s=10, aggregation="last")[:2] == (1, Reason.STEADY)
    peak_outside = {KV: series((20.0, 0.95), (1.0, 0.0)), QUEUE: series((1.0, 0.0))}
    assert _run(make_ctx({"a": peak_outside}), signal_window_s=10)[:2] == (1, Reason.STEADY)


def test_thresholds_come_from_upstream_config_keys() -> None:
    ctx = make_ctx({"a": fresh(0.6, 0)})
    assert _run(ctx)[:2] == (1, Reason.STEADY)
    assert _run(ctx, saturation={"kvCacheThreshold": 0.65})[:2] == (2, Reason.SCALE_UP)


def test_transition_lock_is_measured_in_context_seconds_not_ticks() -> None:
    policy = WvaSaturationPolicy(transition_timeout_s=60)
    state: dict[str, Any] = {}
    for tick in range(1000):  # 1000 ticks within 50 s: still locked, however many ticks
        ctx = make_ctx({"a": HOT}, target=3, now_s=NOW_S + tick * 0.05, policy_state=state)
        desired, state = policy(ctx)
        assert (desired, state["wva_last_reason"]) == (3, "TransitionInProgress")
    assert state["wva_transition_started_s"] == NOW_S
    ctx = make_ctx({"a": HOT}, target=3, now_s=NOW_S + 60.0, policy_state=state)
    desired, state = policy(ctx)
    assert (desired, state["wva_last_reason"]) == (1, "TransitionTimedOut")
    hot_later = {KV: series((-60.0, 0.95)), QUEUE: series((-60.0, 0.0))}  # sampled at NOW_S + 60
    desired, state = policy(make_ctx({"a": hot_later}, target=1, now_s=NOW_S + 60.1, policy_state=state))
    assert (desired, state["wva_last_reason"], state["wva_transition_started_s"]) == (2, "ScaleUp", None)


def test_policy_state_is_new_and_input_untouched() -> None:
    given = {"wva_last_desired": 5, "serve_internal": 7}
    ctx = make_ctx({"a": HOT}, policy_state=given)
    _, state = WvaSaturationPolicy()(ctx)
    assert ctx.policy_state == given
    assert state is not ctx.policy_state
    assert "serve_internal" not in state  # Serve merges its own keys back itself


def test_context_without_time_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="current_time"):
        WvaSaturationPolicy()(make_ctx({"a": HOT}, now_s=None))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        pytest.param({"mode": "magic"}, "policy_kwargs.mode", id="unknown-mode"),
        pytest.param({"saturation": {"kvCacheThreshold": "high"}}, "saturation.kvCacheThreshold", id="bad-type"),
        pytest.param({"saturation": {"kvCacheTreshold": 0.7}}, "kvCacheTreshold", id="typo-key"),
        pytest.param({"saturation": {"kvCacheThreshold": 0.05}}, "kvSpareTrigger (0.1)", id="cross-field"),
        pytest.param({"max_metric_age_s": -1}, "policy_kwargs.max_metric_age_s", id="negative-age"),
        pytest.param({"prometheus": {"fetch_interval_s": 0}}, "prometheus.fetch_interval_s", id="zero-interval"),
        pytest.param({"unknown_option": 1}, "unknown_option", id="unknown-kwarg"),
    ],
)
def test_invalid_kwargs_name_the_key(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        WvaSaturationPolicy(**kwargs)
    assert needle in str(err.value)


def test_state_round_trip_ignores_malformed_values() -> None:
    s = DeploymentPolicyState.from_policy_state(
        {"wva_transition_started_s": "yesterday", "wva_last_desired": 2.5, "wva_last_reason": 3}
    )
    assert s == DeploymentPolicyState()
    full = DeploymentPolicyState(12.5, 3, "ScaleUp")
    assert DeploymentPolicyState.from_policy_state(full.to_policy_state()) == full


def test_transition_lock_defaults_to_the_configmap_key() -> None:
    policy = WvaSaturationPolicy(saturation={"transitionTimeoutSeconds": 30})
    started = {"wva_transition_started_s": NOW_S - 31.0}
    desired, state = policy(make_ctx({"a": HOT}, target=3, policy_state=started))
    assert (desired, state["wva_last_reason"]) == (1, "TransitionTimedOut")
    override = WvaSaturationPolicy(saturation={"transitionTimeoutSeconds": 30}, transition_timeout_s=60)
    desired, state = override(make_ctx({"a": HOT}, target=3, policy_state=started))
    assert (desired, state["wva_last_reason"]) == (3, "TransitionInProgress")
