"""No scale-down while a VA's metrics warm up after they were unavailable (core.warmup): the first cycles after
an outage see pods not scraped yet and empty 1 m windows, and must not read them as an idle model. Found by the
5-minute Prometheus outage in the closed loop (5 replicas -> 1 on the first cycle after Prometheus came back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.core.builders import NOW, V, snapshot_dict
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide
from wva_ray.core.warmup import METRICS_WARMUP_S, WARMUP_AFTER_S, deferred_scale_down, metrics_back_for_s

IDLE = [(0.05, 0.0)] * 5  # five pods with nothing to do: the analyzer scales down
HOT = [(0.95, 8.0)] * 5  # five saturated pods: the analyzer scales up
NOW_DT = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def _at(seconds_before: float) -> str:
    return datetime.fromtimestamp(NOW_DT.timestamp() - seconds_before, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decide(pods: list[tuple[float, float]], condition: tuple[str, str, float] | None, **va: Any) -> Decision:
    data = snapshot_dict(V("a", pods, desired=5, **va))
    if condition is not None:
        status, reason, ago = condition
        cond = {"type": "MetricsAvailable", "status": status, "reason": reason, "lastTransitionTime": _at(ago)}
        data["variantAutoscalings"][0]["status"]["conditions"] = [cond]
    return decide(Snapshot.model_validate(data)).decisions[0]


def test_the_snapshot_is_at_now() -> None:
    assert datetime.fromisoformat(NOW.replace("Z", "+00:00")) == NOW_DT


@pytest.mark.parametrize(
    ("condition", "deferred"),
    [
        pytest.param(None, False, id="never-said: new VA"),
        pytest.param(("False", "PrometheusError", 300.0), True, id="first-cycle-after-5-min-outage"),
        pytest.param(("False", "MetricsMissing", WARMUP_AFTER_S), True, id="first-cycle-after-30s-missing"),
        pytest.param(("False", "MetricsMissing", 4.0), False, id="first-cycle-after-a-late-scrape"),
        pytest.param(("False", "PrometheusError", WARMUP_AFTER_S - 1), False, id="after-a-short-outage"),
        pytest.param(("True", "MetricsWarmingUp", 2.0), True, id="warming-2s"),
        pytest.param(("True", "MetricsWarmingUp", METRICS_WARMUP_S - 1), True, id="warming-just-under"),
        pytest.param(("True", "MetricsWarmingUp", METRICS_WARMUP_S + 1), False, id="warmed-up"),
        pytest.param(("True", "MetricsFound", 2.0), False, id="back-2s-after-a-short-one"),
        pytest.param(("True", "MetricsPartial", 2.0), False, id="partial"),
        pytest.param(("True", "MetricsFound", 3600.0), False, id="available-for-an-hour"),
    ],
)
def test_scale_down_waits_for_the_warmup(condition: tuple[str, str, float] | None, deferred: bool) -> None:
    d = _decide(IDLE, condition)
    metrics = next(c for c in d.conditions if c.type == "MetricsAvailable")
    if deferred:
        assert d.desired_replicas == 5, d.reason
        assert "scale-down to" in d.reason and "deferred" in d.reason, d.reason
        assert not d.held  # decided (the analyzer ran on the pods), only not lower
        # said, and kept in the status, so that the next cycle reads the warm-up back
        assert (metrics.status.value, metrics.reason) == ("True", "MetricsWarmingUp"), metrics
    else:
        assert d.desired_replicas < 5, d.reason
        assert "deferred" not in d.reason
        assert metrics.reason != "MetricsWarmingUp"


@pytest.mark.parametrize(
    "condition",
    [pytest.param(("False", "PrometheusError", 300.0), id="first-cycle"), pytest.param(None, id="never-said")],
)
def test_scale_up_goes_ahead_during_the_warmup(condition: tuple[str, str, float] | None) -> None:
    assert _decide(HOT, condition).desired_replicas > 5


def test_a_lowered_max_replicas_still_applies_during_the_warmup() -> None:
    d = _decide(IDLE, ("False", "PrometheusError", 300.0), max_replicas=3)
    assert d.desired_replicas == 3, d.reason


@pytest.mark.parametrize(
    ("target", "held", "back", "want"),
    [
        pytest.param(1, 5, 0.0, 5, id="down-deferred"),
        pytest.param(5, 5, 0.0, 5, id="same"),
        pytest.param(7, 5, 10.0, 7, id="up"),
        pytest.param(1, 5, None, 1, id="warm"),
    ],
)
def test_deferred_scale_down(target: int, held: int, back: float | None, want: int) -> None:
    got, why = deferred_scale_down(target, held, back)
    assert got == want and (why is not None) == (want != target)


@pytest.mark.parametrize(
    ("target", "deferred"),
    [
        pytest.param(("False", "TargetNotFound"), True, id="first-cycle-with-the-target-back"),
        pytest.param(("True", "TargetFound"), False, id="target-there"),
    ],
)
def test_scale_down_waits_when_the_target_comes_back(target: tuple[str, str], deferred: bool) -> None:
    """A Deployment deleted and recreated: the VA held 5 meanwhile; the new object's pods are fresh and their
    windows empty, so the first cycles back must not read them as an idle model (even after a short outage)."""
    data = snapshot_dict(V("a", IDLE, desired=5))
    status, reason = target
    data["variantAutoscalings"][0]["status"]["conditions"] = [
        {"type": "TargetResolved", "status": status, "reason": reason, "lastTransitionTime": _at(10)},
        {"type": "MetricsAvailable", "status": "False", "reason": "MetricsMissing", "lastTransitionTime": _at(10)},
    ]
    d = decide(Snapshot.model_validate(data)).decisions[0]
    metrics = next(c for c in d.conditions if c.type == "MetricsAvailable")
    assert (d.desired_replicas == 5) == deferred, d.reason
    assert (metrics.reason == "MetricsWarmingUp") == deferred, metrics


def test_metrics_back_for_s_without_status() -> None:
    data = snapshot_dict(V("a", IDLE))
    va = Snapshot.model_validate(data).variant_autoscalings[0]
    assert metrics_back_for_s(va, NOW_DT) is None


def test_the_warmup_is_carried_by_the_written_status_across_cycles() -> None:
    """Cycle after cycle through the status writer (adapters.kube.status.plan_status, pure): deferred from the
    first cycle back until the warm-up has passed, then the scale-down happens and the condition says MetricsFound."""
    from wva_ray.adapters.kube.status import plan_status

    data = snapshot_dict(V("a", IDLE, desired=5))
    cond = {"type": "MetricsAvailable", "status": "False", "reason": "PrometheusError", "lastTransitionTime": _at(300)}
    va_json: dict[str, Any] = data["variantAutoscalings"][0]
    va_json["status"]["conditions"] = [cond]
    va_json["metadata"]["resourceVersion"] = "1"
    seen = []
    for t in (0.0, 2.0, 30.0, METRICS_WARMUP_S - 2, METRICS_WARMUP_S + 2):
        now = datetime.fromtimestamp(NOW_DT.timestamp() + t, UTC)
        data["now"] = now.isoformat()
        d = decide(Snapshot.model_validate(data), now).decisions[0]
        reason = next(c.reason for c in d.conditions if c.type == "MetricsAvailable")
        seen.append((t, d.desired_replicas, reason))
        change = plan_status(va_json, d, now, applied=True, heartbeat_s=300.0)
        if change is not None:
            va_json["status"] = change.status
    assert [s[1] for s in seen[:-1]] == [5, 5, 5, 5], seen
    assert {s[2] for s in seen[:-1]} == {"MetricsWarmingUp"}, seen
    assert seen[-1][1] < 5 and seen[-1][2] == "MetricsFound", seen
