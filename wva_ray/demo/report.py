"""The demo's read-outs: the live table, the end-of-run summary (`summary.json`) and the plot. Pure except for
`write_plot` and `write_summary` (file I/O) and the rich rendering.

GPU-hours are in the demo's virtual time (wall seconds x speed), so they read as the hours of the trace segment
that was replayed. SLO attainment is the share of finished requests (completed or failed) whose time to first
token and inter-token latency were within the targets; requests still running at the end are reported apart.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from wva_ray.sim.plotting import pyplot

TTFT_SLO_S = 2.0
ITL_SLO_S = 0.1


@dataclass(frozen=True, slots=True)
class RunInfo:
    mode: str
    trace: str
    speed: float
    duration_s: float
    interval_s: float
    shards: int
    cycles: int
    requests_sent: int


def render_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """The live per-variant table (fits 80 columns; the reason is cut at its first colon)."""
    table = Table(title=title, expand=False, pad_edge=False)
    table.add_column("model", no_wrap=True)
    table.add_column("GPU", no_wrap=True)
    table.add_column("req/s", justify="right", no_wrap=True)
    table.add_column("KV", justify="right", no_wrap=True)
    table.add_column("queue", justify="right", no_wrap=True)
    table.add_column("cur → want", justify="center", no_wrap=True)
    table.add_column("ready", justify="right", no_wrap=True)
    table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=26)
    for r in rows:
        desired = "?" if r["desired"] is None else str(r["desired"])
        arrow = f"{r['current']} → {desired}"
        if r["desired"] is not None and r["desired"] > r["current"]:
            arrow = f"[green]{arrow}[/green]"
        elif r["desired"] is not None and r["desired"] < r["current"]:
            arrow = f"[yellow]{arrow}[/yellow]"
        table.add_row(
            r["model"],
            r["accelerator"],
            f"{r['load_rps']:.1f}",
            f"{r['kv']:.0%}",
            f"{r['queue']:.0f}",
            arrow,
            str(r["ready"]),
            _short(str(r["reason"]).split(":", 1)[0], 26),
        )
    return table


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return round(ordered[idx], 4)


def scaling_actions(writes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Changes of the published desired count per variant (the first publish is not an action)."""
    last: dict[str, int | None] = {}
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0})
    for w in writes:
        key, desired = w["key"], w["desired"]
        before = last.get(key)
        last[key] = desired
        if before is None or desired is None or desired == before:
            continue
        per[key.split("/", 1)[-1]]["up" if desired > before else "down"] += 1
    up = sum(v["up"] for v in per.values())
    down = sum(v["down"] for v in per.values())
    return {"total": up + down, "up": up, "down": down, "per_variant": dict(per)}


def summarize(data: Mapping[str, Any], info: RunInfo) -> dict[str, Any]:
    """The summary written to summary.json (see the module docstring for the definitions)."""
    records = data["records"]
    finished = [r for r in records]
    ok = [r for r in finished if r["ok"] and r["ttft_s"] <= TTFT_SLO_S and r["itl_s"] <= ITL_SLO_S]
    per_model: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model_id"] for r in finished}):
        mine = [r for r in finished if r["model_id"] == model]
        good = [r for r in ok if r["model_id"] == model]
        per_model[model] = {"finished": len(mine), "attainment": round(len(good) / len(mine), 4)}
    gpu_hours = {k: round(v * info.speed / 3600.0, 3) for k, v in data["gpu_seconds"].items()}
    final: dict[str, Any] = {}
    for name, samples in data["samples"].items():
        if samples:
            final[name] = {"current": samples[-1]["current"], "desired": samples[-1]["desired"]}
    ttft = [r["ttft_s"] for r in finished if r["ok"]]
    itl = [r["itl_s"] for r in finished if r["ok"]]
    return {
        "mode": info.mode,
        "trace": info.trace,
        "speed": info.speed,
        "wall_duration_s": round(info.duration_s, 1),
        "virtual_duration_s": round(info.duration_s * info.speed, 1),
        "interval_s": round(info.interval_s, 3),
        "shards": info.shards,
        "cycles": info.cycles,
        "requests": {
            "sent": info.requests_sent,
            "completed": sum(1 for r in finished if r["ok"]),
            "failed": sum(1 for r in finished if not r["ok"]),
            "unfinished": max(0, info.requests_sent - len(finished)),
        },
        "slo": {
            "ttft_s": TTFT_SLO_S,
            "itl_s": ITL_SLO_S,
            "attainment": round(len(ok) / len(finished), 4) if finished else None,
            "per_model": per_model,
        },
        "latency": {
            "ttft_p50_s": _quantile(ttft, 0.5),
            "ttft_p95_s": _quantile(ttft, 0.95),
            "itl_p50_s": _quantile(itl, 0.5),
            "itl_p95_s": _quantile(itl, 0.95),
        },
        "gpu_hours": {"total": round(sum(gpu_hours.values()), 3), "per_variant": gpu_hours},
        "scaling_actions": scaling_actions(data["writes"]),
        "status_writes": data["status_writes"],
        "final_replicas": final,
    }


def write_summary(summary: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


def write_plot(data: Mapping[str, Any], speed: float, out_dir: Path, bin_s: float = 5.0) -> Path:
    """demand (req/s) and replicas (current, desired) per variant over time, one panel per model."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    variants: Mapping[str, Mapping[str, Any]] = data["variants"]
    models = sorted({v["model"] for v in variants.values()})
    fig, axes = plt.subplots(len(models), 1, figsize=(10, 3.6 * len(models)), squeeze=False, sharex=True)
    to_min = speed / 60.0
    for ax, model in zip(axes[:, 0], models, strict=True):
        arrivals = data["arrivals"].get(model, [])
        if arrivals:
            nbins = int(max(arrivals) // bin_s) + 1
            counts = [0] * nbins
            for t in arrivals:
                counts[int(t // bin_s)] += 1
            xs = [(i + 0.5) * bin_s * to_min for i in range(nbins)]
            demand_ax = ax.twinx()
            demand_ax.plot(xs, [c / bin_s for c in counts], color="0.6", lw=1, label="demand (req/s)")
            demand_ax.set_ylabel("demand (req/s, wall)")
        names = sorted(n for n, v in variants.items() if v["model"] == model)
        for i, name in enumerate(names):
            samples = data["samples"].get(name, [])
            if not samples:
                continue
            off = (i - (len(names) - 1) / 2) * 0.06  # small offsets keep equal lines visible
            ts = [s["t_s"] * to_min for s in samples]
            line = ax.step(ts, [s["current"] + off for s in samples], where="post", lw=2, label=f"{name} current")[0]
            ax.step(
                ts,
                [s["desired"] + off if s["desired"] is not None else float("nan") for s in samples],
                where="post",
                lw=1,
                ls="--",
                color=line.get_color(),
                label=f"{name} desired",
            )
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set_title(model)
        ax.set_ylabel("replicas (lines offset slightly)")
        ax.legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("trace time (minutes)")
    fig.tight_layout()
    path = out_dir / "demo.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
