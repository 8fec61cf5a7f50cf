"""A VA whose metrics could not be read says why (core.sharding.merge, core.conditions): the metrics source of its
shard failed, or its shard answered too late after its source failed. Found by the 5-minute Prometheus outage in
the closed loop (tests/loop/test_faults.py): with the shards late (their source retrying a dead Prometheus), every
VA said `MetricsMissing: no saturation metrics from live pods` for the whole outage, although every pod was live
and reporting; and a failure of one shard's source out of two said the same."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tests.core.builders import V, snapshot
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import propose
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.sharding import LateAnswer, ShardResult, finalize_shards, late_metrics_errors, split

HOT = [(0.75, 2.0), (0.75, 2.0)]
DOWN = "MetricsUnavailableError: Prometheus http://prom:9090 query kv failed after 4 attempt(s): 502"
A, B = ModelGroupRef("a", "m1"), ModelGroupRef("b", "m2")


def _snap() -> Snapshot:
    return snapshot(V("va-a", HOT, namespace="a", model="m1", desired=2), V("va-b", HOT, namespace="b", model="m2"))


def _metrics(d: Decision) -> tuple[str, str, str]:
    c = next(c for c in d.conditions if c.type == "MetricsAvailable")
    return c.status.value, c.reason, c.message


def _plan(
    failing: set[ModelGroupRef], late: set[ModelGroupRef], late_errors: Mapping[ModelGroupRef, str]
) -> dict[str, Decision]:
    """Two shards (one group each); a failing shard's source raised, a late shard did not answer in time."""
    snap = _snap()
    parts = [p for p in split(snap, 8).values() if p.groups]
    assert sorted(g for p in parts for g in p.groups) == [A, B] and all(len(p.groups) == 1 for p in parts)
    results, missing = [], []
    for part in parts:
        (group,) = part.groups
        if group in late:
            missing.append(group)
            continue
        if group in failing:
            failed = part.snapshot.model_copy(update={"metrics": [], "metrics_error": DOWN})
            results.append(ShardResult(part.groups, propose(failed, snap.now), DOWN))
        else:
            results.append(ShardResult(part.groups, propose(part.snapshot, snap.now)))
    plan = (
        finalize_shards(snap, results, missing, snap.now, late_errors)
        if late_errors
        else finalize_shards(snap, results, missing, snap.now)
    )
    return {d.name: d for d in plan.decisions}


@pytest.mark.parametrize(
    ("failing", "late", "late_errors", "want_a", "want_b"),
    [
        pytest.param(set(), set(), {}, "MetricsFound", "MetricsFound", id="both-read"),
        pytest.param({A}, set(), {}, "PrometheusError", "MetricsFound", id="one-shard-source-failed"),
        pytest.param({A, B}, set(), {}, "PrometheusError", "PrometheusError", id="every-shard-source-failed"),
        pytest.param(set(), {A}, {A: DOWN}, "PrometheusError", "MetricsFound", id="late-after-its-source-failed"),
        pytest.param(set(), {A, B}, {A: DOWN, B: DOWN}, "PrometheusError", "PrometheusError", id="all-late-source"),
        pytest.param(set(), {A}, {}, "MetricsMissing", "MetricsFound", id="late-for-no-known-reason"),
    ],
)
def test_a_va_without_metrics_says_why(
    failing: set[ModelGroupRef],
    late: set[ModelGroupRef],
    late_errors: dict[ModelGroupRef, str],
    want_a: str,
    want_b: str,
) -> None:
    plan = _plan(failing, late, late_errors)
    for name, want in (("va-a", want_a), ("va-b", want_b)):
        status, reason, message = _metrics(plan[name])
        assert reason == want, (name, status, reason, message)
        if want == "PrometheusError":
            assert status == "False" and DOWN in message, message
            assert plan[name].held


@pytest.mark.parametrize("late", [pytest.param(True, id="late"), pytest.param(False, id="failed")])
def test_a_va_held_for_its_metrics_keeps_its_previous_decision(late: bool) -> None:
    plan = _plan(set() if late else {A}, {A} if late else set(), {A: DOWN} if late else {})
    assert plan["va-a"].desired_replicas == 2 and plan["va-a"].held


@pytest.mark.parametrize(
    ("answers", "cycle", "want"),
    [
        pytest.param({0: LateAnswer(9, DOWN)}, 10, {A}, id="last-cycle"),
        pytest.param({0: LateAnswer(7, DOWN)}, 10, {A}, id="three-cycles-ago"),
        pytest.param({0: LateAnswer(6, DOWN)}, 10, set(), id="too-old"),
        pytest.param({0: LateAnswer(11, DOWN)}, 10, set(), id="of-another-epoch"),
        pytest.param({1: LateAnswer(9, DOWN)}, 10, set(), id="another-shard"),
        pytest.param({}, 10, set(), id="none"),
    ],
)
def test_a_late_shard_carries_its_recent_late_answers_error(
    answers: dict[int, LateAnswer], cycle: int, want: set[ModelGroupRef]
) -> None:
    got = late_metrics_errors({0: [A]}, answers, cycle)
    assert set(got) == want
    for message in got.values():
        assert DOWN in message and "shard 0 missed the proposal deadline" in message
