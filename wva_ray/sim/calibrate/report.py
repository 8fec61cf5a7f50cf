"""Render calibration results (the results.json dict of `wva-ray calibrate`, see `results`): a markdown report -
command and conditions, before (default model) and after (calibrated switches) side by side, each mechanism alone,
the spread over repeats, fitted profiles, bracket drift, percentiles and the per-window table - and a plot. Pure
except `write_plot` (file I/O, matplotlib Agg). The README is generated from the JSON only, so both always agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wva_ray.sim.calibrate.compare import TARGET_LATENCY_REL, TARGET_WAITING_NRMSE
from wva_ray.sim.calibrate.results import AFTER, BEFORE, ERROR_KEYS, HELDOUT, VARIANTS

TARGETED = ERROR_KEYS[:5]
LABELS = {"off": "before (default model)", "overhead": "+ request overhead", "stall": "+ prefill stalls",
          "both": "after (overhead + stalls)", "both_warm": "after, speed from the replay's warm-up"}  # fmt: skip


def _cell(key: str, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if key.endswith("nrmse") else f"{value * 100:+.0f} %"


def _ok(key: str, value: float) -> bool:
    limit = TARGET_WAITING_NRMSE if key.endswith("nrmse") else TARGET_LATENCY_REL
    return abs(value) <= limit


def _spread_table(result: Mapping[str, Any], key: str = "spread", names: tuple[str, ...] = VARIANTS) -> list[str]:
    lines = ["| model | " + " | ".join(TARGETED) + " | within targets (median) |", "|---" * (len(TARGETED) + 2) + "|"]
    for name in names:
        sp = result.get(key, {}).get(name)
        if not sp:
            continue
        cells = [f"{_cell(k, sp[k]['median'])} ({_cell(k, sp[k]['min'])}..{_cell(k, sp[k]['max'])})" for k in TARGETED]
        ok = sum(_ok(k, sp[k]["median"]) for k in TARGETED)
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + f" | {ok}/{len(TARGETED)} |")
    return lines


def _heldout(result: Mapping[str, Any]) -> list[str]:
    if not result.get("spread_heldout"):
        return []
    first = result["repeats"][0]
    until = first["warmup"]["until_s"]
    factors = ", ".join(
        f"{r['warmup']['speed_factor']:.2f} / {r['warmup'].get('request_overhead_s', 0.0) * 1000:.0f} ms"
        for r in result["repeats"]
    )
    return [
        f"## Paired with the replay itself: over [{until:.0f} s, end) only, median (min..max)",
        "",
        f"`both_warm` fits two numbers on the replay's first {until:.0f} s: the machine's speed (median measured "
        "ITL / modelled step; it scales the calibrated profile) and the per-request overhead (median engine TTFT - "
        f"model TTFT); per repeat (speed / overhead): {factors}. All three rows are compared on the rest of the "
        "replay only.",
        "",
        *_spread_table(result, "spread_heldout", HELDOUT),
        "",
    ]


def markdown(result: Mapping[str, Any]) -> str:
    repeats = result["repeats"]
    seq, eng = result["sequence"], result["engine"]
    lines = ["# Calibration: replica model vs a real vLLM engine", "",
             "Generated from results.json by `wva_ray.sim.calibrate.report` (do not edit by hand). Command:",
             "", "```", result["command"], "```", ""]  # fmt: skip
    loads = [v for r in repeats for v in r["load_avg"].values()]
    lines += [
        f"Sequence: {seq['trace']} from second {seq['start_s']:.0f}, {seq['duration_s']:.0f} s at speed "
        f"{seq['speed']:g}, {seq['requests']} requests (prompts x {seq['prompt_scale']:g}, outputs x "
        f"{seq['output_scale']:g}). Engine: max_num_seqs {eng['max_num_seqs']}, {eng['num_gpu_blocks']} x "
        f"{eng['block_size']} KV blocks, max_num_batched_tokens {eng['max_num_batched_tokens']}, start-up "
        f"{eng['startup_s'] or 0:.0f} s. {len(repeats)} repeats; 1-min load average during the runs "
        f"{min(loads):.1f}-{max(loads):.1f} (2 cores, shared).",
        "",
        f"## Errors against the engine: median over repeats (min..max); targets TTFT/ITL p50, p95 within "
        f"{TARGET_LATENCY_REL:.0%}, waiting NRMSE <= {TARGET_WAITING_NRMSE:.2f}",
        "",
        *_spread_table(result),
        "",
        *_heldout(result),
        "## Before and after, per repeat",
        "",
        "| repeat | load avg | " + " | ".join(f"{k} before / after" for k in ERROR_KEYS) + " |",
        "|---" * (len(ERROR_KEYS) + 2) + "|",
    ]
    for i, r in enumerate(repeats):
        b, a = r["models"][BEFORE]["errors"], r["models"][AFTER]["errors"]
        la = r["load_avg"]
        cells = [f"{_cell(k, b[k])} / {_cell(k, a[k])}" for k in ERROR_KEYS]
        lines.append(f"| {i + 1} | {la['start']:.1f}-{la['end']:.1f} | " + " | ".join(cells) + " |")
    lines += ["", "## Fitted per repeat (both brackets together) and the drift between the brackets", "",
              "| repeat | alpha_ms | beta_ms | gamma_ms/1k KV | net alpha_ms / beta_ms | prefill tok/s | overhead ms | "
              "drift step N=1 | drift step N=8 | drift prefill rate |", "|---" * 10 + "|"]  # fmt: skip
    for i, r in enumerate(repeats):
        p, n, d = r["profiles"]["plain"], r["profiles"]["net"], r["drift"]
        lines.append(
            f"| {i + 1} | {p['alpha_ms']:.3f} | {p['beta_ms']:.4f} | {p['gamma_ms_per_1k_kv']:.4f} | "
            f"{n['alpha_ms']:.3f} / {n['beta_ms']:.4f} | {p['prefill_tokens_per_s']:,.0f} | "
            f"{r['request_overhead_s'] * 1000:.0f} | {d['step_n1']:+.0%} | {d['step_n8']:+.0%} | "
            f"{d['prefill_rate']:+.0%} |"
        )
    first = repeats[0]
    lines += [
        "",
        "## Latency percentiles, repeat 1 (seconds)",
        "",
        "| metric | engine | before | after |",
        "|---|---|---|---|",
    ]
    for metric in ("ttft_s", "itl_s"):
        for q in ("p50", "p95", "p99"):
            e = first["engine"]["percentiles"][metric][q]
            b = first["models"][BEFORE]["percentiles"][metric][q]
            a = first["models"][AFTER]["percentiles"][metric][q]
            lines.append(f"| {metric} {q} | {e:.4f} | {b:.4f} | {a:.4f} |")
    lines += ["", "## Per 10 s, repeat 1 (engine / before / after)", "",
              "| t (s) | running | waiting | KV use | completions |", "|---|---|---|---|---|"]  # fmt: skip
    rows = zip(
        first["engine"]["windows"], first["models"][BEFORE]["windows"], first["models"][AFTER]["windows"], strict=True
    )
    for e, b, a in rows:
        lines.append(
            f"| {e['t0_s']:.0f} | {e['running']:.1f} / {b['running']:.1f} / {a['running']:.1f} | "
            f"{e['waiting']:.1f} / {b['waiting']:.1f} / {a['waiting']:.1f} | "
            f"{e['kv_ratio']:.2f} / {b['kv_ratio']:.2f} / {a['kv_ratio']:.2f} | "
            f"{e['completions']:.0f} / {b['completions']:.0f} / {a['completions']:.0f} |"
        )
    if result.get("notes"):
        lines += ["", "## Reading", "", result["notes"]]
    return "\n".join(lines) + "\n"


def write_plot(path: Path, result: Mapping[str, Any]) -> None:
    """Repeat 1's per-window series (engine, before, after) and the TTFT/ITL percentiles of every repeat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = result["repeats"][0]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7))
    t = [w["t0_s"] for w in first["engine"]["windows"]]
    series = (("running", "running (mean)"), ("waiting", "waiting (mean)"), ("kv_ratio", "KV use (mean)"),
              ("completions", "completions per window"))  # fmt: skip
    sides = (("vLLM engine", first["engine"]["windows"], "-"), ("before", first["models"][BEFORE]["windows"], "--"),
             ("after", first["models"][AFTER]["windows"], ":"))  # fmt: skip
    for ax, (attr, label) in zip([axes[0][0], axes[0][1], axes[0][2], axes[1][0]], series, strict=True):
        for name, windows, ls in sides:
            ax.step(t, [w[attr] for w in windows], where="post", label=name, lw=2, ls=ls)
        ax.set_title(label)
        ax.set_xlabel("seconds from replay start")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    for ax, metric in ((axes[1][1], "ttft_s"), (axes[1][2], "itl_s")):
        for j, (name, key) in enumerate((("engine", None), ("before", BEFORE), ("after", AFTER))):
            for i, r in enumerate(result["repeats"]):
                pct = r["engine"]["percentiles"] if key is None else r["models"][key]["percentiles"]
                ys = [pct[metric][q] * 1000 for q in ("p50", "p95", "p99")]
                ax.plot([0 + j * 0.1, 1 + j * 0.1, 2 + j * 0.1], ys, marker="o", ls="", color=f"C{j}",
                        label=name if i == 0 else None)  # fmt: skip
        ax.set_xticks([0.1, 1.1, 2.1], ["p50", "p95", "p99"])
        ax.set_yscale("log")
        ax.set_title(f"{metric.removesuffix('_s').upper()} (ms), every repeat")
        ax.grid(alpha=0.3)
        ax.legend()
    sp = result["spread"]
    fig.suptitle(
        "replica model vs vLLM engine - median error before -> after (all repeats, full replay):\n"
        + ", ".join(f"{k} {_cell(k, sp[BEFORE][k]['median'])} -> {_cell(k, sp[AFTER][k]['median'])}" for k in TARGETED),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
