"""Render calibration results: a markdown report (profile, per-window table, percentiles, errors and their
spread over repeats) and a plot. Does file I/O only in `write_plot` (matplotlib, Agg backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wva_ray.sim.calibrate.compare import Comparison
from wva_ray.sim.model.profiles import Profile

ERROR_KEYS = ("ttft_p50", "ttft_p95", "ttft_p99", "itl_p50", "itl_p95", "itl_p99", "waiting_nrmse", "running_nrmse")


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def markdown(command: str, profiles: Sequence[Profile], runs: Sequence[Comparison], notes: str = "") -> str:
    lines = ["# Calibration: replica model vs a real vLLM engine", "", "Command:", "", "```", command, "```", ""]
    if notes:
        lines += [notes, ""]
    lines += ["## Fitted profile per repeat", "", "| repeat | alpha_ms | beta_ms | gamma_ms/1k KV | prefill tok/s | "
              "KV tokens | max_num_seqs | startup_s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for i, p in enumerate(profiles):
        lines.append(
            f"| {i + 1} | {p.alpha_ms:.3f} | {p.beta_ms:.4f} | {p.gamma_ms_per_1k_kv:.4f} | "
            f"{p.prefill_tokens_per_s:,.0f} | {p.kv_capacity_tokens} | {p.max_num_seqs} | {p.startup_s:.0f} |"
        )
    lines += ["", "## Errors of the model against the engine (per repeat; targets: TTFT/ITL p50, p95 within 15 %, "
              "waiting NRMSE within 20 %)", ""]  # fmt: skip
    lines += ["| repeat | " + " | ".join(ERROR_KEYS) + " | within targets |", "|---" * (len(ERROR_KEYS) + 2) + "|"]
    for i, c in enumerate(runs):
        ok = c.within_targets()
        cells = [_pct(c.errors[k]) if not k.endswith("nrmse") else f"{c.errors[k]:.2f}" for k in ERROR_KEYS]
        lines.append(f"| {i + 1} | " + " | ".join(cells) + f" | {sum(ok.values())}/{len(ok)} |")
    if len(runs) > 1:
        lo = {k: min(c.errors[k] for c in runs) for k in ERROR_KEYS}
        hi = {k: max(c.errors[k] for c in runs) for k in ERROR_KEYS}
        lines.append("| spread | " + " | ".join(f"{lo[k]:+.2f}..{hi[k]:+.2f}" for k in ERROR_KEYS) + " | |")
    first = runs[0]
    lines += ["", "## Latency percentiles, repeat 1 (seconds)", "", "| metric | engine | model |", "|---|---|---|"]
    for metric in ("ttft_s", "itl_s"):
        for q in ("p50", "p95", "p99"):
            lines.append(f"| {metric} {q} | {first.real_pct[metric][q]:.4f} | {first.model_pct[metric][q]:.4f} |")
    lines += ["", "## Per 10 s, repeat 1 (engine / model)", "",
              "| t (s) | running | waiting | KV use | completions |", "|---|---|---|---|---|"]  # fmt: skip
    for r, m in zip(first.real_windows, first.model_windows, strict=True):
        lines.append(
            f"| {r.t0_s:.0f} | {r.running:.1f} / {m.running:.1f} | {r.waiting:.1f} / {m.waiting:.1f} | "
            f"{r.kv_ratio:.2f} / {m.kv_ratio:.2f} | {r.completions:.0f} / {m.completions:.0f} |"
        )
    return "\n".join(lines) + "\n"


def write_plot(path: Path, run: Comparison, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    t = [r.t0_s for r in run.real_windows]
    series = (("running", "running (mean)"), ("waiting", "waiting (mean)"), ("kv_ratio", "KV use (mean)"),
              ("completions", "completions per window"))  # fmt: skip
    for ax, (attr, label) in zip(axes.flat, series, strict=True):
        ax.step(t, [getattr(r, attr) for r in run.real_windows], where="post", label="vLLM engine", lw=2)
        ax.step(t, [getattr(m, attr) for m in run.model_windows], where="post", label="replica model", lw=2, ls="--")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[1][0].set_xlabel("seconds from replay start")
    axes[1][1].set_xlabel("seconds from replay start")
    axes[0][0].legend()
    e = run.errors
    fig.suptitle(
        f"{title}\nTTFT p50 {e['ttft_p50']:+.0%} p95 {e['ttft_p95']:+.0%} | ITL p50 {e['itl_p50']:+.0%} "
        f"p95 {e['itl_p95']:+.0%} | waiting NRMSE {e['waiting_nrmse']:.2f}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
