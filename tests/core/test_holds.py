"""Degraded inputs become held decisions with reasons (wva-behaviour.md 1, 2): never exceptions, never zeros."""

from __future__ import annotations

import math

import pytest

from tests.core.builders import V, snapshot, snapshot_dict
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide

HOT = [(0.75, 2), (0.75, 2)]


def cond(d: Decision, ctype: str) -> tuple[str, str]:
    c = next(c for c in d.conditions if c.type == ctype)
    return c.status.value, c.reason


def one(*variants: V, **extra: object) -> dict[str, Decision]:
    return {d.name: d for d in decide(snapshot(*variants, **extra)).decisions}


def test_missing_metrics_hold_previous_desired() -> None:
    d = one(V("a", [], current=3, desired=4))["a"]
    assert d.desired_replicas == 4 and d.held
    assert cond(d, "MetricsAvailable") == ("False", "MetricsMissing")


def test_missing_metrics_without_previous_keep_current() -> None:
    assert one(V("a", [], current=3))["a"].desired_replicas == 3


def test_metrics_error_reports_prometheus_error() -> None:
    d = one(V("a", [], current=2), metrics_error="connection refused")["a"]
    assert d.desired_replicas == 2
    assert cond(d, "MetricsAvailable") == ("False", "PrometheusError")


def test_stale_rows_are_dropped_and_reported() -> None:
    data = snapshot_dict(V("a", HOT))
    for row in data["metrics"]:
        row["stale"] = True
    d = decide(Snapshot.model_validate(data)).decisions[0]
    assert d.desired_replicas == 2
    assert cond(d, "MetricsAvailable") == ("False", "MetricsStale")


def test_series_of_deleted_pod_is_ignored() -> None:
    data = snapshot_dict(V("a", [(0.1, 0), (0.1, 0)]))
    data["metrics"].append(
        {"namespace": "llm", "modelName": "m1", "pod": "gone-pod", "kvCacheUsage": 0.99, "queueLength": 50}
    )
    d = decide(Snapshot.model_validate(data)).decisions[0]
    assert d.desired_replicas == 1  # the ghost pod's saturation does not count


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -0.5])
def test_non_finite_or_negative_samples_are_dropped(bad: float) -> None:
    data = snapshot_dict(V("a", HOT))
    data["metrics"][0]["kvCacheUsage"] = bad
    d = decide(Snapshot.model_validate(data)).decisions[0]
    # one pod of two reports: the transition lock holds at the current count (never read as 0)
    assert d.desired_replicas == 2


def test_target_not_found() -> None:
    d = one(V("a", HOT, with_target=False, desired=3))["a"]
    assert d.desired_replicas == 3 and d.held
    assert cond(d, "TargetResolved") == ("False", "TargetNotFound")


def test_target_conflict_marks_both_and_acts_on_neither() -> None:
    got = one(V("a", HOT, target="shared", desired=2), V("b", [], target="shared", cost="5", desired=2))
    for name in ("a", "b"):
        assert cond(got[name], "TargetConflict") == ("True", "TargetConflict")
        assert got[name].desired_replicas == 2 and not got[name].publish


@pytest.mark.parametrize(
    ("variant", "message_part"),
    [
        pytest.param(V("a", HOT, cost="cheap", desired=2), "variantCost", id="bad-cost"),
        pytest.param(V("a", HOT, min_replicas=5, max_replicas=2, desired=2), "minReplicas", id="min-over-max"),
        pytest.param(V("a", HOT, priority=5000, desired=2), "priority", id="priority-range"),
    ],
)
def test_invalid_spec_is_held_with_invalid_configuration(variant: V, message_part: str) -> None:
    d = one(variant)["a"]
    status, reason = cond(d, "OptimizationReady")
    assert (status, reason) == ("False", "InvalidConfiguration")
    assert message_part in next(c.message for c in d.conditions if c.type == "OptimizationReady")
    assert d.desired_replicas == 2


def test_invalid_variant_does_not_stop_the_others() -> None:
    got = one(V("a", HOT, cost="x", desired=2), V("b", HOT, cost="5"))
    assert got["b"].desired_replicas == 3


def test_missing_accelerator_gets_no_gauge() -> None:
    d = one(V("a", HOT, accelerator=None))["a"]
    assert cond(d, "OptimizationReady") == ("False", "MissingAccelerator")
    assert not d.publish


def test_accelerator_from_node_selector() -> None:
    data = snapshot_dict(V("a", HOT, accelerator=None))
    data["scaleTargets"][0]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-A100-PCIE-80GB"}
    d = decide(Snapshot.model_validate(data)).decisions[0]
    assert d.accelerator == "A100" and d.publish and d.desired_replicas == 3


def test_accelerator_label_is_normalised() -> None:
    assert one(V("a", HOT, accelerator="NVIDIA-H100-80GB-HBM3"))["a"].accelerator == "H100"
