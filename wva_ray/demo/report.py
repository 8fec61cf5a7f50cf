"""The demo's read-outs: the live tables, the end-of-run summary (`summary.json`: each run, and the comparison
of the two) and the terminal's comparison table. Pure except for `write_summary` (file I/O) and the rich
rendering; the plot is `demo.plot`.

GPU-hours are in the demo's virtual time (wall seconds x speed), so they read as the hours of the trace segment
that was replayed. SLO attainment is the share of judged requests that completed with time to first token and
mean inter-token latency within the targets. Judged: every finished request (completed or failed), and every
request still in flight at the end that can no longer meet the SLO (in flight for longer than
TTFT target + ITL target x (output tokens - 1), which bounds a compliant request's end-to-end time) - so a rule
that leaves requests queued is not credited for them. The other unfinished requests are reported apart.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group, JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wva_ray.demo.runs import V1_ALIAS, DemoRun

TTFT_SLO_S = 2.0
ITL_SLO_S = 0.1


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What every run of one demo shares."""

    mode: str
    trace: str
    speed: float
    duration_s: float
    interval_s: float
    shards: int
    requests_sent: int  # to each run (the same requests)
    seed: int


@dataclass(frozen=True, slots=True)
class RunData:
    """One run's recording (`DemoCluster.export()`) and how many decision cycles its controller ran."""

    run: DemoRun
    data: Mapping[str, Any]
    cycles: int


def render_tables(runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], title: str) -> Group:
    """The live view: one table per run, stacked (titled with the run's label under one heading)."""
    if len(runs) == 1:
        return Group(render_table(runs[0][1], title))
    return Group(Text(title, style="bold"), *(render_table(rows, label) for label, rows in runs))


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


def attainment(records: Sequence[Mapping[str, Any]]) -> float | None:
    """The share of `records` that completed within both SLO targets (None when there are none)."""
    if not records:
        return None
    ok = sum(1 for r in records if r["ok"] and r["ttft_s"] <= TTFT_SLO_S and r["itl_s"] <= ITL_SLO_S)
    return round(ok / len(records), 4)


def past_slo(in_flight: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """In-flight requests that can no longer meet the SLO, as failed records (see the module docstring)."""
    return [
        {"model_id": r["model_id"], "ok": False, "ttft_s": 0.0, "itl_s": 0.0, "arrived_s": r["arrived_s"]}
        for r in in_flight
        if r["elapsed_s"] > TTFT_SLO_S + ITL_SLO_S * max(0, r["output_tokens"] - 1)
    ]


def judged(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The requests SLO attainment is computed over: finished ones and those already past the SLO."""
    return [*data["records"], *past_slo(data["in_flight_requests"])]


def run_summary(result: RunData, speed: float, requests_sent: int) -> dict[str, Any]:
    """One run's part of summary.json (see the module docstring for the definitions)."""
    data, run = result.data, result.run
    finished = data["records"]
    counted = judged(data)
    per_model: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model_id"] for r in counted}):
        mine = [r for r in counted if r["model_id"] == model]
        per_model[model] = {"judged": len(mine), "attainment": attainment(mine)}
    gpu_hours = {k: round(v * speed / 3600.0, 3) for k, v in data["gpu_seconds"].items()}
    final: dict[str, Any] = {}
    for name, samples in data["samples"].items():
        if samples:
            last = samples[-1]
            final[name] = {"current": last["current"], "ready": last["ready"], "desired": last["desired"]}
    ttft = [r["ttft_s"] for r in finished if r["ok"]]
    itl = [r["itl_s"] for r in finished if r["ok"]]
    return {
        "analyzer": run.analyzer or V1_ALIAS,
        "stands_for": run.stands_for,
        "saturation_config_default": dict(run.saturation_default),
        "cycles": result.cycles,
        "requests": {
            "completed": sum(1 for r in finished if r["ok"]),
            "failed": sum(1 for r in finished if not r["ok"]),
            "unfinished": max(0, requests_sent - len(finished)),
            "unfinished_past_slo": len(counted) - len(finished),
        },
        "slo": {"attainment": attainment(counted), "judged": len(counted), "per_model": per_model},
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


def comparison(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last run against the first (upstream's rule is first when comparing); None for a single run.
    `attainment_change_points`: candidate minus baseline in percentage points; `gpu_hours_ratio`: candidate over
    baseline (None when either is missing or the baseline used none)."""
    if len(runs) < 2:
        return None
    labels = list(runs)
    base, cand = runs[labels[0]], runs[labels[-1]]
    att_b, att_c = base["slo"]["attainment"], cand["slo"]["attainment"]
    gpu_b, gpu_c = base["gpu_hours"]["total"], cand["gpu_hours"]["total"]
    return {
        "baseline": labels[0],
        "candidate": labels[-1],
        "attainment": {label: r["slo"]["attainment"] for label, r in runs.items()},
        "gpu_hours": {label: r["gpu_hours"]["total"] for label, r in runs.items()},
        "attainment_change_points": None if att_b is None or att_c is None else round(100.0 * (att_c - att_b), 2),
        "gpu_hours_ratio": round(gpu_c / gpu_b, 3) if gpu_b > 0 else None,
    }


def summarize(results: Sequence[RunData], info: RunInfo) -> dict[str, Any]:
    """summary.json: what the runs share, each run by its label, and the comparison."""
    runs = {r.run.label: run_summary(r, info.speed, info.requests_sent) for r in results}
    return {
        "mode": info.mode,
        "trace": info.trace,
        "seed": info.seed,
        "speed": info.speed,
        "wall_duration_s": round(info.duration_s, 1),
        "virtual_duration_s": round(info.duration_s * info.speed, 1),
        "interval_s": round(info.interval_s, 3),
        "shards": info.shards,
        "requests_sent": info.requests_sent,
        "slo_targets": {"ttft_s": TTFT_SLO_S, "itl_s": ITL_SLO_S},
        "runs": runs,
        "comparison": comparison(runs),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_comparison(summary: Mapping[str, Any]) -> Group:
    """The terminal's side-by-side table (one row per run, fits 80 columns), what each run stands for and, when
    comparing, one line with the difference."""
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False, padding=(0, 0, 0, 1), show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("run", "left"),
        ("analyzer", "left"),
        ("SLO att.", "right"),
        ("GPU-h", "right"),
        ("TTFT p95", "right"),
        ("done/\nfailed", "right"),
        ("unfinished\n(past SLO)", "right"),
        ("scaled\nup/down", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    for label, r in summary["runs"].items():
        req, acts, p95 = r["requests"], r["scaling_actions"], r["latency"]["ttft_p95_s"]
        table.add_row(
            escape(label),
            escape(r["analyzer"]),
            _pct(r["slo"]["attainment"]),
            f"{r['gpu_hours']['total']:.2f}",
            "n/a" if p95 is None else f"{p95:.1f} s",
            f"{req['completed']}/{req['failed']}",
            f"{req['unfinished']} ({req['unfinished_past_slo']})",
            f"{acts['up']}/{acts['down']}",
        )
    lines: list[Any] = [table]
    lines.extend(escape(f"{label}: {r['stands_for']}") for label, r in summary["runs"].items())
    cmp = summary.get("comparison")
    if cmp:
        change, ratio = cmp["attainment_change_points"], cmp["gpu_hours_ratio"]
        lines.append(
            escape(
                f"{cmp['candidate']} vs {cmp['baseline']} on the same requests: SLO attainment "
                f"{'n/a' if change is None else f'{change:+.1f} points'}, GPU-hours "
                f"{'n/a' if ratio is None else f'x{ratio:.2f}'}"
            )
        )
    return Group(*lines)


def write_summary(summary: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path
