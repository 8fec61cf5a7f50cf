"""The demo's plot (`demo.png`): one column per run (same requests), so a reader sees what each rule did with the
same demand. Does file I/O; needs matplotlib (the optional `plot` extra; `sim.plotting.pyplot` names it when it is
missing).

Rows: one per model - demand (arrivals per wall-clock second, right axis) with the desired and the ready replicas
of each variant (left axis) - and a last row with the share of requests that met the SLO, by arrival time.
Time runs in wall-clock seconds of the demo (the clock the emulated servers and the demand run on), with the
trace time it stands for on the top axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wva_ray.demo.report import ITL_SLO_S, TTFT_SLO_S, RunData, attainment, judged
from wva_ray.sim.plotting import pyplot

DEMAND_BIN_S = 5.0
SLO_BIN_S = 10.0
MIN_REQUESTS_PER_BIN = 3  # an SLO share from fewer finished requests is not drawn
ACCELERATOR_COLORS = {"H100": "tab:blue", "A100": "tab:orange", "L40S": "tab:green"}
MODEL_STYLES = ("-", "--", ":")
DEMAND_COLOR = "0.55"


def demand_series(arrivals: Sequence[float], bin_s: float = DEMAND_BIN_S) -> tuple[list[float], list[float]]:
    """Arrivals (wall seconds) -> bin centres and arrivals per second in each bin."""
    if not arrivals:
        return [], []
    counts = [0] * (int(max(arrivals) // bin_s) + 1)
    for t in arrivals:
        counts[int(t // bin_s)] += 1
    return [(i + 0.5) * bin_s for i in range(len(counts))], [c / bin_s for c in counts]


def slo_series(
    records: Sequence[Mapping[str, Any]], bin_s: float = SLO_BIN_S, min_n: int = MIN_REQUESTS_PER_BIN
) -> tuple[list[float], list[float]]:
    """Finished requests -> bin centres (by arrival) and the percentage within the SLO, for bins with >= min_n."""
    bins: dict[int, list[Mapping[str, Any]]] = {}
    for r in records:
        bins.setdefault(int(r["arrived_s"] // bin_s), []).append(r)
    xs, ys = [], []
    for i in sorted(bins):
        share = attainment(bins[i])
        if share is not None and len(bins[i]) >= min_n:
            xs.append((i + 0.5) * bin_s)
            ys.append(100.0 * share)
    return xs, ys


def _title(result: RunData, summary: Mapping[str, Any]) -> str:
    run = summary["runs"][result.run.label]
    att = run["slo"]["attainment"]
    att_text = "n/a" if att is None else f"{att:.1%}"
    return (
        f"{result.run.label} - {result.run.short}\n"
        f"SLO attainment {att_text}, {run['gpu_hours']['total']:.2f} GPU-hours (trace time)"
    )


def replica_top(results: Sequence[RunData], model: str) -> int:
    """The largest ready or desired replica count of `model`'s variants in any run (at least 1)."""
    top = 1
    for result in results:
        for name, v in result.data["variants"].items():
            if v["model"] != model:
                continue
            for s in result.data["samples"].get(name, []):
                top = max(top, s["ready"], s["desired"] or 0)
    return top


def _replica_panel(ax: Any, result: RunData, model: str) -> None:
    variants: Mapping[str, Mapping[str, Any]] = result.data["variants"]
    names = sorted(n for n, v in variants.items() if v["model"] == model)
    for i, name in enumerate(names):
        samples = result.data["samples"].get(name, [])
        if not samples:
            continue
        color = ACCELERATOR_COLORS.get(variants[name]["accelerator"], "tab:red")
        off = (i - (len(names) - 1) / 2) * 0.07  # keeps variants with equal counts apart
        ts = [s["t_s"] for s in samples]
        ax.step(ts, [s["ready"] + off for s in samples], where="post", lw=3.5, alpha=0.4, color=color)
        desired = [float("nan") if s["desired"] is None else s["desired"] + off for s in samples]
        ax.step(ts, desired, where="post", lw=1.3, ls="--", color=color)


def _legend_handles(results: Sequence[RunData], models: Sequence[str]) -> list[Any]:
    from matplotlib.lines import Line2D

    accelerators = sorted({v["accelerator"] for r in results for v in r.data["variants"].values()})
    handles = [
        Line2D([], [], color=ACCELERATOR_COLORS.get(a, "tab:red"), lw=3, label=f"variant on {a}") for a in accelerators
    ]
    handles += [
        Line2D([], [], color="0.3", lw=3.5, alpha=0.4, label="ready replicas"),
        Line2D([], [], color="0.3", lw=1.3, ls="--", label="desired replicas"),
        Line2D([], [], color=DEMAND_COLOR, lw=1, label="demand (right axis)"),
    ]
    handles += [
        Line2D([], [], color="k", lw=1.5, ls=MODEL_STYLES[i % len(MODEL_STYLES)], label=f"{m} within SLO")
        for i, m in enumerate(models)
    ]
    return handles


def write_plot(results: Sequence[RunData], summary: Mapping[str, Any], speed: float, out_dir: Path) -> Path:
    """demo.png: per run (column), demand and desired/ready replicas per model, and the SLO share over time."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    models = sorted({v["model"] for r in results for v in r.data["variants"].values()})
    ncols, nrows = len(results), len(models) + 1
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(6.4 * ncols, 2.9 * len(models) + 2.6),
        squeeze=False,
        sharex=True,
        sharey="row",
        gridspec_kw={"height_ratios": [3.0] * len(models) + [2.0]},
    )
    for row, model in enumerate(models):
        arrivals = {r.run.label: demand_series(r.data["arrivals"].get(model, [])) for r in results}
        top = max((max(ys) for _, ys in arrivals.values() if ys), default=1.0) * 1.1
        for col, result in enumerate(results):
            ax = axes[row, col]
            xs, ys = arrivals[result.run.label]
            demand_ax = ax.twinx()
            demand_ax.plot(xs, ys, color=DEMAND_COLOR, lw=1)
            demand_ax.set_ylim(0, top)
            if col == ncols - 1:
                demand_ax.set_ylabel(f"demand (arrivals/s,\nwall clock, {DEMAND_BIN_S:g} s bins)", color="0.35")
            else:
                demand_ax.set_yticklabels([])
            ax.set_zorder(demand_ax.get_zorder() + 1)  # replica lines over the demand line
            ax.patch.set_visible(False)
            _replica_panel(ax, result, model)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="y", color="0.9")
            if col == 0:
                ax.set_ylabel(f"{model}\nreplicas")
        # the row shares its replica axis: its range must hold every run's counts, not only the first column's
        axes[row, 0].set_ylim(0, replica_top(results, model) + 0.5)
    for col, result in enumerate(results):
        axes[0, col].set_title(_title(result, summary), fontsize=10)
        top_axis = axes[0, col].secondary_xaxis(
            "top", functions=(lambda s: s * speed / 60.0, lambda m: m * 60.0 / speed)
        )
        top_axis.set_xlabel("trace time (min)", fontsize=8)
        ax = axes[-1, col]
        for i, model in enumerate(models):
            mine = [r for r in judged(result.data) if r["model_id"] == model]
            xs, ys = slo_series(mine)
            ax.plot(xs, ys, color="k", lw=1.5, ls=MODEL_STYLES[i % len(MODEL_STYLES)], marker=".", ms=4)
        ax.set_ylim(-5, 105)
        ax.grid(axis="y", color="0.9")
        ax.set_xlabel("time in the demo (wall-clock s)")
        if col == 0:
            ax.set_ylabel(
                f"% within SLO\n(TTFT<={TTFT_SLO_S:g} s, ITL<={ITL_SLO_S:g} s;\nby arrival, {SLO_BIN_S:g} s bins)"
            )
    fig.legend(handles=_legend_handles(results, models), loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.text(0.99, 0.005, "replica lines offset slightly so that equal counts stay visible", ha="right", fontsize=7)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = out_dir / "demo.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
