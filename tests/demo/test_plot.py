"""The demo's plot: its series (unit), the PNG for two runs, and the demo without the optional `plot` extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from wva_ray.demo.plot import demand_series, slo_series, write_plot
from wva_ray.demo.report import RunData, RunInfo, summarize
from wva_ray.demo.runner import DemoOptions, _plot
from wva_ray.demo.runs import UPSTREAM_RUN, WVA_RAY_RUN


@pytest.mark.parametrize(
    ("arrivals", "xs", "ys"),
    [
        pytest.param([], [], [], id="none"),
        pytest.param([0.0, 1.0, 4.9, 5.0], [2.5, 7.5], [0.6, 0.2], id="two-bins-per-second"),
        pytest.param([12.0], [2.5, 7.5, 12.5], [0.0, 0.0, 0.2], id="empty-bins-are-zero"),
    ],
)
def test_demand_series_is_arrivals_per_second(arrivals: list[float], xs: list[float], ys: list[float]) -> None:
    assert demand_series(arrivals, bin_s=5.0) == (xs, pytest.approx(ys))


def _rec(arrived_s: float, ok: bool) -> dict[str, Any]:
    return {"model_id": "m", "ok": True, "ttft_s": 0.5 if ok else 9.0, "itl_s": 0.05, "arrived_s": arrived_s}


def test_slo_series_by_arrival_skips_thin_bins() -> None:
    records = [_rec(1, True), _rec(2, True), _rec(3, False), _rec(4, True), _rec(12, True), _rec(13, True)]
    assert slo_series(records, bin_s=10.0, min_n=3) == ([5.0], [75.0])


def _data(model_ready: int) -> dict[str, Any]:
    samples = [{"t_s": float(t), "current": 2, "ready": model_ready, "desired": 2 if t else None} for t in range(20)]
    return {
        "variants": {
            "a-h100": {"model": "a", "accelerator": "H100", "gpus": 1},
            "b-a100": {"model": "b", "accelerator": "A100", "gpus": 4},
        },
        "samples": {"a-h100": samples, "b-a100": samples},
        "arrivals": {"a": [0.5 * i for i in range(40)], "b": [1.0 * i for i in range(20)]},
        "records": [{**_rec(float(i), i % 3 > 0), "model_id": "ab"[i % 2]} for i in range(20)],
        "in_flight_requests": [{"model_id": "a", "arrived_s": 19.0, "output_tokens": 5, "elapsed_s": 9.0}],
        "gpu_seconds": {"a-h100": 40.0, "b-a100": 160.0},
        "writes": [],
        "status_writes": 0,
    }


def _results() -> list[RunData]:
    return [RunData(UPSTREAM_RUN, _data(1), 8), RunData(WVA_RAY_RUN, _data(2), 8)]


def test_plot_of_two_runs(tmp_path: Path) -> None:
    results = _results()
    summary = summarize(results, RunInfo("no-ray", "t", 12.0, 20.0, 2.5, 2, 20, 0))
    path = write_plot(results, summary, 12.0, tmp_path)
    assert path == tmp_path / "demo.png"
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("first", "second", "top"),
    [
        pytest.param(1, 7, 7, id="second-run-scales-higher"),
        pytest.param(6, 2, 6, id="first-run-scales-higher"),
        pytest.param(0, 0, 2, id="desired-above-ready"),
    ],
)
def test_each_row_shows_every_runs_replicas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: int, second: int, top: int
) -> None:
    """The runs of a row share one replica axis: it must reach the highest ready or desired count of any run (the
    first column's range alone cut the other run's lines off at the top)."""
    from matplotlib.figure import Figure

    saved: list[Any] = []
    real_savefig = Figure.savefig

    def savefig(fig: Any, *args: Any, **kwargs: Any) -> None:
        saved.append(fig)
        real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    results = [RunData(UPSTREAM_RUN, _data(first), 8), RunData(WVA_RAY_RUN, _data(second), 8)]
    summary = summarize(results, RunInfo("no-ray", "t", 12.0, 20.0, 2.5, 2, 20, 0))
    write_plot(results, summary, 12.0, tmp_path)
    (fig,) = saved
    replica_axes = [ax for ax in fig.axes if ax.get_ylabel().endswith("replicas")]
    assert len(replica_axes) == 2  # one per model (the first column's; the row shares it)
    for ax in replica_axes:
        low, high = ax.get_ylim()
        assert low == 0 and top <= high <= top + 1


def test_demo_without_the_plot_extra_says_which_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    console = Console(record=True, width=200)
    results = _results()
    summary = summarize(results, RunInfo("no-ray", "t", 12.0, 20.0, 2.5, 2, 20, 0))
    assert _plot(results, DemoOptions(output=tmp_path), summary, console) is None
    assert "pip install 'wva-ray[plot]'" in console.export_text()
    assert not (tmp_path / "demo.png").exists()
