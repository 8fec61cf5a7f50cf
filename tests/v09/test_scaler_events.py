"""v0.9 Event reasons on annotated scalers (adapters/kube/scaler_events.py) where wva-ray takes the same action:
ScaledUp / ScaledDown, ScaledToZero when the scale-to-zero enforcer took the scaler to 0, ResourceConstrained when
a limiter cut the decision, MetricsUnavailable when the decision is held for want of metrics; each once per state.
The Kubernetes side (a real POST) is covered by tests/kube/v09."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from wva_ray.adapters.kube.client import KubeApi
from wva_ray.adapters.kube.scaler_events import ScalerEvents
from wva_ray.adapters.kube.scalers import AnnotatedState
from wva_ray.api.plan import Action, Decision, DecisionSource, PlanCondition, VariantTelemetry
from wva_ray.api.va import ConditionStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SOURCE = DecisionSource(kind="ScaledObject", reason="discovered")


NO_METRICS = PlanCondition(type="MetricsAvailable", status=ConditionStatus.FALSE, reason="MetricsMissing", message="")


def no_metrics() -> Decision:
    return decision(1, held=True, conditions=[NO_METRICS])


class RecordingApi:
    def __init__(self) -> None:
        self.reasons: list[tuple[str, str, str]] = []  # (object name, reason, type)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.reasons.append((body["involvedObject"]["name"], body["reason"], body["type"]))
        return body


def decision(desired: int, *, limited: bool = False, held: bool = False, policy: str = "", **kw: Any) -> Decision:
    return Decision.model_validate(
        {
            "namespace": "llm",
            "name": "m1-so",
            "modelID": "m1",
            "accelerator": "H100",
            "current_replicas": 1,
            "desired_replicas": desired,
            "action": Action.NO_CHANGE,
            "reason": "r",
            "limited": limited,
            "held": held,
            "source": SOURCE,
            "telemetry": replace(VariantTelemetry(), enforcer_policy=policy),
            **kw,
        }
    )


def run(*cycles: Decision) -> list[tuple[str, str]]:
    api = RecordingApi()
    events = ScalerEvents(cast(KubeApi, api))
    for d in cycles:
        events.publish(AnnotatedState(), [d], NOW)
    return [(reason, kind) for _, reason, kind in api.reasons]


@pytest.mark.parametrize(
    ("cycles", "want"),
    [
        pytest.param((decision(1), decision(3)), [("ScaledUp", "Normal")], id="up"),
        pytest.param((decision(3), decision(1)), [("ScaledDown", "Normal")], id="down"),
        pytest.param(
            (decision(1), decision(0, policy="scale_to_zero")), [("ScaledToZero", "Normal")], id="enforcer-to-zero"
        ),
        pytest.param((decision(1), decision(0)), [("ScaledDown", "Normal")], id="zero-not-by-the-enforcer"),
        pytest.param(
            (decision(1), decision(2, limited=True), decision(2, limited=True), decision(3), decision(3, limited=True)),
            [
                ("ScaledUp", "Normal"),
                ("ResourceConstrained", "Warning"),
                ("ScaledUp", "Normal"),
                ("ResourceConstrained", "Warning"),
            ],
            id="constrained-once-per-entry",
        ),
        pytest.param(
            (
                decision(1),
                decision(1, held=True, conditions=[NO_METRICS]),
                decision(1, held=True, conditions=[NO_METRICS]),
            ),
            [("MetricsUnavailable", "Warning")],
            id="metrics-unavailable-once",
        ),
    ],
)
def test_v09_event_reasons(cycles: tuple[Decision, ...], want: list[tuple[str, str]]) -> None:
    assert run(*cycles) == want


def test_a_va_decision_gets_no_scaler_event() -> None:
    va = decision(1, limited=True).model_copy(update={"source": None})
    assert run(va, va.model_copy(update={"desired_replicas": 4})) == []
