"""Analyzer `learned` through decide(): registered, sizes from the pods' windows, carries its state, combines with V2,
and a snapshot that names no analyzer still runs V1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.core.builders import V, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide
from wva_ray.core.analyzers.registry import ANALYZERS

LEARNED = {"saturation": {"default": {"analyzerName": "learned"}}}
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _window(rate: float, itl_ms: float = 12.0, running: float = 20.0) -> dict[str, Any]:
    done = rate * 60
    return {
        "windowSeconds": 60.0,
        "runningMean": running,
        "kvUsageMean": 0.05,
        "waitingNow": 0.0,
        "running": running,
        "completions": done,
        "promptTokens": done * 1000,
        "generationTokens": done * 200,
        "itlSecondsSum": itl_ms / 1000 * done * 199,
        "itlCount": done * 199,
        "ttftSecondsSum": 0.06 * done,
        "ttftCount": done,
        "queueSecondsSum": 0.0,
        "queueCount": done,
    }


def learned_snapshot(rate_per_pod: float, pods: int = 2, t: datetime = T0, state: Any = None) -> Snapshot:
    v = V("m-h100", [(0.05, 0)] * pods, kv_tokens=400_000, avg_in=1000, avg_out=200)
    data = snapshot_dict(v, config=LEARNED, now=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for row in data["metrics"]:
        row.update(_window(rate_per_pod))
    for pod in data["pods"]:
        pod["createdAt"] = (T0 - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        pod["readyAt"] = (T0 - timedelta(minutes=28)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if state is not None:
        data["state"] = state
    return Snapshot.model_validate(data)


def run(rates: list[float], pods: int = 2) -> list[Any]:
    state, plans = None, []
    for i, r in enumerate(rates):
        plan = decide(learned_snapshot(r, pods, T0 + timedelta(seconds=30 * i), state))
        state = plan.state.model_dump(mode="json", by_alias=True)
        plans.append(plan)
    return plans


def test_registered() -> None:
    assert "learned" in ANALYZERS and ANALYZERS["learned"].label == "learned"


def test_sizes_from_the_windows_and_says_what_it_learned() -> None:
    plan = run([6.0] * 6)[-1]
    d = plan.decisions[0]
    assert d.analyzer == "learned"
    assert d.desired_replicas >= 2
    assert "req/s" in d.reason
    learned = [s for s in d.steps if "learned alpha" in s]
    assert learned and "windows" in learned[0] and "start-up" in learned[0]
    assert "llm/m1" in plan.state.learned
    entry = plan.state.learned["llm/m1"]["variants"]["m-h100"]
    assert entry["perf"]["step"]["samples"] > 0 and entry["startup"]["samples"] == 2


def test_more_demand_never_fewer_replicas() -> None:
    got = [run([r] * 4)[-1].decisions[0].desired_replicas for r in (1.0, 5.0, 10.0, 20.0)]
    assert got == sorted(got) and got[-1] > 2


def test_light_load_does_not_scale_down_at_once() -> None:
    plans = run([0.5] * 4, pods=4)
    assert all(p.decisions[0].desired_replicas == 4 for p in plans)  # the payback window has not passed


def test_state_survives_a_restart() -> None:
    plans = run([10.0] * 5)
    state = plans[-1].state.model_dump(mode="json", by_alias=True)
    again = decide(learned_snapshot(10.0, 2, T0 + timedelta(seconds=150), state))
    assert (
        again.state.learned["llm/m1"]["variants"]["m-h100"]["perf"]["step"]["samples"]
        > (state["learned"]["llm/m1"]["variants"]["m-h100"]["perf"]["step"]["samples"])
    )


def test_corrupt_state_starts_afresh_with_a_warning() -> None:
    plan = decide(learned_snapshot(10.0, state={"learned": {"llm/m1": {"demand": {"daily": [1.0]}}}}))
    assert any("starting afresh" in w for w in plan.warnings)


def test_no_analyzer_named_means_v1() -> None:
    v = V("m-h100", [(0.5, 0)] * 2)
    plan = decide(Snapshot.model_validate(snapshot_dict(v)))
    assert plan.decisions[0].analyzer == "v1"
    assert "learned" not in plan.model_dump(mode="json", by_alias=True)["state"]


def _idle_snapshot(pods: int, t: datetime, state: Any, counters: bool = True, running: float = 0.0) -> Snapshot:
    """A fleet that has never completed a request: no token counters, no V2 averages (as Prometheus returns NaN)."""
    v = V("m-h100", [(0.0, 0)] * pods, kv_tokens=400_000)
    data = snapshot_dict(v, config=LEARNED, now=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for row in data["metrics"]:
        row.update({"windowSeconds": 60.0, "running": running, "waitingNow": 0.0, "runningMean": running})
        if counters:
            row["completions"] = 0.0
    for pod in data["pods"]:
        pod["createdAt"] = (T0 - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        pod["readyAt"] = (T0 - timedelta(minutes=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if state is not None:
        data["state"] = state
    return Snapshot.model_validate(data)


def _run_idle(cycles: int, pods: int = 4, **kw: Any) -> list[Any]:
    state, plans = None, []
    for i in range(cycles):
        plan = decide(_idle_snapshot(pods, T0 + timedelta(seconds=30 * i), state, **kw))
        state = plan.state.model_dump(mode="json", by_alias=True)
        plans.append(plan)
    return plans


def test_an_idle_fleet_is_given_back_after_the_window_not_held_forever() -> None:
    plans = _run_idle(12)
    desired = [p.decisions[0].desired_replicas for p in plans]
    assert desired[0] == 4  # not at once: the scale-down window has to pass first
    first = next(i for i, d in enumerate(desired) if d < 4)
    assert first > 0 and all(d < 4 for d in desired[first:]), desired  # and it stands until carried out
    assert any("idle (no request yet)" in s for s in plans[0].decisions[0].steps)


def test_requests_in_flight_none_completed_holds_and_votes() -> None:
    plans = _run_idle(12, running=3.0)
    assert all(p.decisions[0].desired_replicas == 4 for p in plans)
    assert any("none completed" in s for s in plans[-1].decisions[0].steps)


def test_without_request_counters_learned_holds_through_the_warm_up_then_stops_voting() -> None:
    plans = _run_idle(12, counters=False)  # 30-s cycles: the 300-s warm-up ends at the 11th
    first, last = plans[0].decisions[0], plans[-1].decisions[0]
    assert first.desired_replicas == 4  # V2 reads zero demand on first scrapes: it alone does not shrink the fleet
    assert any("warming up" in s for s in first.steps) and not any("(not voting)" in s for s in first.steps)
    assert any("(not voting)" in s for s in last.steps)
