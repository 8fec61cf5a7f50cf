"""The demo's report maths: scaling actions, SLO attainment over judged requests, the per-run summary, the
comparison and the terminal table (unit; no Ray, no servers)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from wva_ray.demo.report import (
    ITL_SLO_S,
    TTFT_SLO_S,
    RunData,
    RunInfo,
    attainment,
    comparison,
    judged,
    render_comparison,
    scaling_actions,
    summarize,
)
from wva_ray.demo.runs import UPSTREAM_RUN, WVA_RAY_RUN, run_for

REC = {"model_id": "m", "variant": "v", "wait_s": 0.0, "e2e_s": 1.0, "arrived_s": 0.0}
GOOD = {**REC, "ok": True, "ttft_s": 0.5, "itl_s": 0.05}
SLOW_TTFT = {**REC, "ok": True, "ttft_s": 5.0, "itl_s": 0.05}
SLOW_ITL = {**REC, "ok": True, "ttft_s": 0.5, "itl_s": 0.5}
FAILED = {**REC, "ok": False, "ttft_s": 0.0, "itl_s": 0.0}
# in flight at the end with 11 output tokens: a compliant request ends within 2 + 0.1 x 10 = 3 s
BOUND_S = TTFT_SLO_S + ITL_SLO_S * 10


def _flight(elapsed_s: float, output_tokens: int = 11) -> dict[str, Any]:
    return {"model_id": "m", "arrived_s": 1.0, "output_tokens": output_tokens, "elapsed_s": elapsed_s}


def _data(records: list[dict[str, Any]], in_flight: list[dict[str, Any]] | None = None, gpu_s: float = 300.0) -> Any:
    return {
        "records": records,
        "in_flight_requests": in_flight or [],
        "gpu_seconds": {"v": gpu_s},
        "samples": {"v": [{"t_s": 1.0, "current": 2, "ready": 1, "desired": 3}]},
        "writes": [],
        "status_writes": 0,
    }


def test_scaling_actions_count_changes_not_first_publish() -> None:
    writes = [
        {"key": "d/a", "desired": 1},
        {"key": "d/a", "desired": 1},
        {"key": "d/a", "desired": 3},
        {"key": "d/b", "desired": 2},
        {"key": "d/a", "desired": 2},
    ]
    assert scaling_actions(writes) == {"total": 2, "up": 1, "down": 1, "per_variant": {"a": {"up": 1, "down": 1}}}


@pytest.mark.parametrize(
    ("records", "in_flight", "expected"),
    [
        pytest.param([GOOD, SLOW_TTFT, FAILED, SLOW_ITL], [], 0.25, id="ttft-itl-and-failure-all-miss"),
        pytest.param([GOOD], [_flight(BOUND_S - 0.1)], 1.0, id="in-flight-within-bound-not-judged"),
        pytest.param([GOOD], [_flight(BOUND_S + 0.1)], 0.5, id="in-flight-past-bound-is-a-miss"),
        pytest.param([GOOD], [_flight(2.5, output_tokens=1)], 0.5, id="one-token-bound-is-the-ttft-target"),
        pytest.param([], [_flight(BOUND_S + 1)], 0.0, id="only-late-requests"),
        pytest.param([], [_flight(0.1)], None, id="nothing-judged"),
    ],
)
def test_attainment_over_judged_requests(
    records: list[dict[str, Any]], in_flight: list[dict[str, Any]], expected: float | None
) -> None:
    assert attainment(judged(_data(records, in_flight))) == expected


record = st.sampled_from([GOOD, SLOW_TTFT, SLOW_ITL, FAILED])
flight = st.builds(_flight, st.floats(0.0, 60.0), st.integers(1, 400))


@given(st.lists(record, min_size=1), st.lists(flight))
def test_requests_left_in_flight_never_raise_attainment(records: list[dict[str, Any]], flights: list[Any]) -> None:
    """A rule that leaves requests queued at the end is never credited for them."""
    with_flights = attainment(judged(_data(records, flights)))
    finished_only = attainment(records)
    assert with_flights is not None and finished_only is not None
    assert 0.0 <= with_flights <= finished_only <= 1.0


INFO = RunInfo("no-ray", "t", 12.0, 100.0, 2.5, 2, 6, 0)


def test_summary_per_run_and_comparison() -> None:
    upstream = RunData(UPSTREAM_RUN, _data([GOOD, FAILED], [_flight(BOUND_S + 1)], gpu_s=300.0), 40)
    ours = RunData(WVA_RAY_RUN, _data([GOOD, GOOD, SLOW_ITL, GOOD], gpu_s=450.0), 39)
    s = summarize([upstream, ours], INFO)
    assert list(s["runs"]) == ["upstream", "wva-ray"]
    up, mine = s["runs"]["upstream"], s["runs"]["wva-ray"]
    assert (up["analyzer"], mine["analyzer"]) == ("saturation", "learned")
    assert up["saturation_config_default"] == {"analyzers": [{"name": "saturation", "score": 1.0}]}
    assert up["requests"] == {"completed": 1, "failed": 1, "unfinished": 4, "unfinished_past_slo": 1}
    assert up["slo"]["attainment"] == pytest.approx(1 / 3, abs=1e-4)
    assert up["gpu_hours"]["total"] == pytest.approx(1.0)  # 300 wall s x 12 = 1 trace hour
    assert mine["slo"]["attainment"] == 0.75
    assert mine["final_replicas"] == {"v": {"current": 2, "ready": 1, "desired": 3}}
    assert (up["cycles"], mine["cycles"]) == (40, 39)
    assert s["comparison"] == {
        "baseline": "upstream",
        "candidate": "wva-ray",
        "attainment": {"upstream": 0.3333, "wva-ray": 0.75},
        "gpu_hours": {"upstream": 1.0, "wva-ray": 1.5},
        "attainment_change_points": 41.67,
        "gpu_hours_ratio": 1.5,
    }
    assert (s["requests_sent"], s["seed"], s["slo_targets"]) == (6, 0, {"ttft_s": TTFT_SLO_S, "itl_s": ITL_SLO_S})


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        pytest.param(
            {"a": {"slo": {"attainment": None}, "gpu_hours": {"total": 0.0}}},
            None,
            id="one-run-no-comparison",
        ),
        pytest.param(
            {
                "a": {"slo": {"attainment": None}, "gpu_hours": {"total": 0.0}},
                "b": {"slo": {"attainment": 0.5}, "gpu_hours": {"total": 1.0}},
            },
            (None, None),
            id="nothing-to-divide-by",
        ),
        pytest.param(
            {
                "a": {"slo": {"attainment": 0.9}, "gpu_hours": {"total": 2.0}},
                "b": {"slo": {"attainment": 0.5}, "gpu_hours": {"total": 1.0}},
            },
            (-40.0, 0.5),
            id="candidate-cheaper-and-worse",
        ),
    ],
)
def test_comparison_edges(runs: dict[str, Any], expected: tuple[float | None, float | None] | None) -> None:
    cmp = comparison(runs)
    if expected is None:
        assert cmp is None
    else:
        assert cmp is not None
        assert (cmp["attainment_change_points"], cmp["gpu_hours_ratio"]) == expected


@pytest.mark.parametrize(
    "runs",
    [
        pytest.param([UPSTREAM_RUN, WVA_RAY_RUN], id="side-by-side"),
        pytest.param([run_for("")], id="v1-alone"),
    ],
)
def test_terminal_table_fits_80_columns_and_names_each_run(runs: list[Any]) -> None:
    s = summarize([RunData(r, _data([GOOD, SLOW_TTFT]), 10) for r in runs], INFO)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_comparison(s))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = " ".join(text.split())
    for r in runs:
        assert " ".join(f"{r.label}: {r.stands_for}".split()) in words
    assert ("wva-ray vs upstream on the same requests" in words) == (len(runs) > 1)
