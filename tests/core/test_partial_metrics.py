"""Partial metrics (wva-behaviour.md 2, ours): some Ready pods of a variant have no row, or the source warned that
its answer is partial. The decision goes on with the pods that report and MetricsAvailable says so
(True/MetricsPartial, naming the pods); a pod Ready for less than the grace is not reported (not scraped yet)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.builders import V, snapshot_dict
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide

NOW_TS = "2026-11-27T12:00:00Z"
OLD = "2026-11-27T11:00:00Z"  # Ready an hour before
NEW = "2026-11-27T11:59:50Z"  # Ready 10 s before (within core.variants.NEW_POD_GRACE_S)


def _metrics_available(d: Decision) -> tuple[str, str, str]:
    c = next(c for c in d.conditions if c.type == "MetricsAvailable")
    return c.status.value, c.reason, c.message


def _decide(drop: list[int], ready_at: list[str | None], **extra: Any) -> Decision:
    data = snapshot_dict(V("a", [(0.5, 0.0)] * len(ready_at)), **extra)
    for pod, at in zip(data["pods"], ready_at, strict=True):
        if at is not None:
            pod["readyAt"] = at
    data["metrics"] = [m for i, m in enumerate(data["metrics"]) if i not in drop]
    return decide(Snapshot.model_validate(data)).decisions[0]


@pytest.mark.parametrize(
    ("drop", "ready_at", "reason", "named"),
    [
        pytest.param([], [OLD, OLD, OLD], "MetricsFound", None, id="all-report"),
        pytest.param([0], [OLD, OLD, OLD], "MetricsPartial", "a-0", id="old-pod-silent"),
        pytest.param([0, 2], [OLD, OLD, OLD], "MetricsPartial", "a-0, a-2", id="two-silent"),
        pytest.param([0], [None, OLD, OLD], "MetricsPartial", "a-0", id="ready-time-unknown-counts"),
        pytest.param([2], [OLD, OLD, NEW], "MetricsFound", None, id="new-pod-within-grace"),
    ],
)
def test_ready_pods_without_rows_are_named(
    drop: list[int], ready_at: list[str | None], reason: str, named: str | None
) -> None:
    d = _decide(drop, ready_at)
    status, got, message = _metrics_available(d)
    assert (status, got) == ("True", reason), message
    assert not d.held  # decided on the pods that report
    if named is not None:
        assert named in message and f"deciding on the {3 - len(drop)} pod(s)" in message


def test_all_pods_silent_is_still_missing_and_held() -> None:
    d = _decide([0, 1], [OLD, OLD])
    assert _metrics_available(d)[:2] == ("False", "MetricsMissing") and d.held


def test_source_warnings_make_it_partial() -> None:
    d = _decide([], [OLD], metricsWarnings=["kv: partial response: store b unreachable"])
    status, reason, message = _metrics_available(d)
    assert (status, reason) == ("True", "MetricsPartial") and "store b unreachable" in message
