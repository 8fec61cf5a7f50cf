"""Benchmark output: the markdown table and the PNG plots (matplotlib on first use, `sim.plotting`). Writes files only.

Plots per scenario (first seed): ready GPUs over time per policy with the demand on a second axis, and
cost vs SLO attainment per policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wva_ray.sim.plotting import pyplot

if TYPE_CHECKING:
    from wva_ray.sim.bench.prepare import Prepared
    from wva_ray.sim.records import SimResult

COLUMNS = (
    ("slo_attainment", "SLO att. (own class)", "{:.4f}"),
    ("gpu_hours", "GPU-h", "{:.2f}"),
    ("oracle_gpu_hours_at_own_attainment", "oracle GPU-h at that att.", "{:.2f}"),
    ("gpu_hours_vs_matched_oracle", "x matched oracle", "{:.2f}"),
    ("causal_gpu_hours_at_own_attainment", "causal GPU-h at that att.", "{:.2f}"),
    ("gpu_hours_vs_matched_causal", "x matched causal", "{:.2f}"),
    ("attainment_gap_to_causal_max", "att. below causal max", "{:+.3f}"),
    ("attainment_strict", "strict", "{:.3f}"),
    ("attainment_standard", "standard", "{:.3f}"),
    ("attainment_relaxed", "relaxed", "{:.3f}"),
    ("p99_ttft_s", "p99 TTFT s", "{:.2f}"),
    ("goodput_rps", "goodput r/s", "{:.1f}"),
    ("scale_actions_per_hour", "actions/h", "{:.1f}"),
    ("flaps", "flaps", "{:.1f}"),
    ("over_provisioning", "over-prov.", "{:.2f}"),
    ("reaction_capacity_ready_s", "step: cap. ready s", "{:.0f}"),
    ("reaction_slo_recovered_s", "step: SLO back s", "{:.0f}"),
)


def _cell(row: Mapping[str, Any], key: str, fmt: str) -> str:
    val = row.get(key)
    if val is None:
        return "-"
    text = fmt.format(val)
    ci = row.get(f"{key}_ci95")
    if ci is not None and key in ("gpu_hours", "slo_attainment"):
        text += " ±" + fmt.format(ci)
    return text


def render_markdown(doc: Mapping[str, Any]) -> str:
    lines = [
        "# wva-ray benchmark results",
        "",
        f"- command: `{doc.get('command')}`",
        f"- commit: `{doc.get('commit')}`  created: {doc.get('created')}  wall: {doc.get('wall_s', 0):.0f} s",
        f"- machine: {doc.get('machine')}",
        f"- default policy: `{doc.get('default_policy')}` (what a fresh install runs); ± = 95 % CI half-width over"
        " seeds; x matched oracle = GPU-hours / the oracle's GPU-hours at the policy's own attainment (same seed)",
        "",
    ]
    for name, scn in doc.get("scenarios", {}).items():
        lines += [f"## {name}", "", str(scn.get("description", "")).strip(), ""]
        lines += [bounds_line(scn.get("bounds", {})) + f" Seeds {scn.get('seeds')}.", ""]
        if scn.get("oracle_violations"):
            lines += [f"- ORACLE BEATEN: {v}" for v in scn["oracle_violations"]] + [""]
        lines.append("| policy | " + " | ".join(c[1] for c in COLUMNS) + " |")
        lines.append("|---" * (len(COLUMNS) + 1) + "|")
        for pol, row in scn.get("policies", {}).items():
            lines.append(f"| {pol} | " + " | ".join(_cell(row, k, f) for k, _, f in COLUMNS) + " |")
        if scn.get("errors"):
            lines.append("")
            for pol, err in scn["errors"].items():
                lines.append(f"- {pol} failed: `{err[:300]}`")
        lines.append("")
    cp = doc.get("control_plane")
    if cp:
        lines += [
            "## S5-control-plane (time of `wva_ray.core.decide`)",
            "",
            "| VAs | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|",
        ]
        for n, row in cp.get("sizes", {}).items():
            lines.append(f"| {n} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['max_ms']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    return "unreachable" if value is None else fmt.format(value)


def bounds_line(b: Mapping[str, Any]) -> str:
    """One sentence: the oracle at each attainment target and the causal bound."""
    targets = ("0.90", "0.95", "0.99")
    oracle = ", ".join(f"{t}: {_num(b.get(f'oracle_gpu_hours_at_{t}'))}" for t in targets)
    causal = ", ".join(f"{t}: {_num(b.get(f'causal_gpu_hours_at_{t}'))}" for t in targets)
    return (
        f"Oracle (clairvoyant lower bound) GPU-h at attainment {oracle}; max attainment "
        f"{_num(b.get('oracle_max_attainment'), '{:.4f}')}. Causal bound (no capacity before demand is seen + "
        f"start-up) max attainment {_num(b.get('causal_max_attainment'), '{:.4f}')}, GPU-h at {causal}."
    )


def write_markdown(output: Path, doc: Mapping[str, Any]) -> Path:
    path = output / "results.md"
    path.write_text(render_markdown(doc), encoding="utf-8")
    return path


def write_plots(output: Path, scenario: str, prep: Prepared, runs: Mapping[str, SimResult]) -> None:
    if not runs:
        return
    plt = pyplot()
    gpus = {v.name: v.profile.gpus for v in prep.variants}
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 1.8 * len(runs) + 1), sharex=True, squeeze=False)
    for ax, (name, res) in zip(axes[:, 0], runs.items(), strict=True):
        ready = sum((arr * gpus[v] for v, arr in res.ready.items()), np.zeros(len(res.timeline_s)))
        current = sum((arr * gpus[v] for v, arr in res.current.items()), np.zeros(len(res.timeline_s)))
        ax.step(res.timeline_s / 60, current, where="post", label="GPUs billed", color="tab:orange")
        ax.step(res.timeline_s / 60, ready, where="post", label="GPUs ready", color="tab:blue")
        ax.set_ylabel(name, fontsize=8)
        ax2 = ax.twinx()
        for m in prep.models:
            rate = m.trace.rate_per_bin(60.0, prep.scenario.duration_s)
            ax2.plot(np.arange(len(rate)) + 0.5, rate, color="grey", lw=0.8, alpha=0.7)
        ax2.set_ylabel("req/s", fontsize=7)
    axes[0, 0].legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("minutes")
    fig.suptitle(f"{scenario}: GPUs per policy (lines) and demand per model (grey, req/s per minute)")
    fig.tight_layout()
    fig.savefig(output / f"{scenario}-replicas.png", dpi=80)
    plt.close(fig)


def write_cost_plot(output: Path, doc: Mapping[str, Any]) -> None:
    plt = pyplot()
    for name, scn in doc.get("scenarios", {}).items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for pol, row in scn.get("policies", {}).items():
            x, y = row.get("gpu_hours_vs_matched_oracle"), row.get("slo_attainment")
            if x is None or y is None:
                continue
            ax.scatter([x], [y], label=pol)
            ax.annotate(pol, (x, y), fontsize=7)
        ax.set_xlabel("GPU-hours / oracle at the same attainment")
        ax.set_ylabel("SLO attainment (own class)")
        ax.set_title(name)
        fig.tight_layout()
        fig.savefig(output / f"{name}-cost-vs-attainment.png", dpi=80)
        plt.close(fig)
