"""Benchmark figures for prose, generated from a results document: the only way README/docs quote the bench.

`summary_table(doc)` renders, per scenario, attainment first and GPU-hours vs the matched oracle second for the
policies a reader compares (wva-ray as installed, the other wva-ray analyzers, upstream WVA, the best of the
baselines); `replace_block(text, name, body)` swaps a `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->`
block; `numbers_outside_blocks(text)` finds benchmark-like figures written by hand. Pure, no I/O
(benchmarks/results_table.py writes the files; tests/sim/test_results_prose.py fails when they disagree).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OURS = ("wva-ray", "wva-ray-v1", "wva-ray-v2", "wva-ray-slo")
STATIC = "static-peak"
UPSTREAM = ("wva-upstream-v1-hpa", "wva-upstream-v2-keda")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(?:%|x\b|×|GPU-h)|(?<![\w.])0\.\d{2,}")


def _cell(row: Mapping[str, Any] | None) -> str:
    if not row:
        return "-"
    att = row.get("slo_attainment")
    ratio = row.get("gpu_hours_vs_matched_oracle")
    gh = row.get("gpu_hours")
    ci = row.get("slo_attainment_ci95")
    text = "-" if att is None else f"{att:.3f}" + (f" ±{ci:.3f}" if ci is not None else "")
    if gh is not None:
        text += f" / {gh:.2f} GPU-h"
    if ratio is not None:
        text += f" ({ratio:.2f}x" + _causal(row) + ")"
    return text


def _causal(row: Mapping[str, Any]) -> str:
    """`, N.NNx causal` (GPU-hours over the causal bound's at the same attainment), or where the attainment is
    above what any reactive policy reaches, `, above causal max`; empty for results without the causal columns."""
    ratio = row.get("gpu_hours_vs_matched_causal")
    if ratio is not None:
        return f", {ratio:.2f}x causal"
    gap = row.get("attainment_gap_to_causal_max")
    if gap is not None and gap < 0.005:
        return ", above causal max"
    return ""


def policy_table(doc: Mapping[str, Any]) -> str:
    """Every policy (rows) in every scenario (columns): attainment / x matched oracle / x matched causal."""
    scenarios = doc.get("scenarios", {})
    names: list[str] = []
    for scn in scenarios.values():
        names += [p for p in scn.get("policies", {}) if p not in names]
    head = ["policy", *scenarios]
    lines = [
        "Cells: SLO attainment / GPU-hours over the oracle's at the same attainment / over the causal bound's at"
        " the same attainment (`>max`: attainment above the causal maximum, no reactive bound exists there).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name in names:
        cells = [name]
        for scn in scenarios.values():
            row = scn.get("policies", {}).get(name)
            cells.append(_short(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _short(row: Mapping[str, Any] | None) -> str:
    if not row or row.get("slo_attainment") is None:
        return "-"
    parts = [f"{row['slo_attainment']:.3f}"]
    ratio = row.get("gpu_hours_vs_matched_oracle")
    parts.append("-" if ratio is None else f"{ratio:.2f}x")
    causal = row.get("gpu_hours_vs_matched_causal")
    gap = row.get("attainment_gap_to_causal_max")
    if causal is not None:
        parts.append(f"{causal:.2f}x")
    elif gap is not None and gap < 0.005:
        parts.append(">max")
    else:
        parts.append("-")
    return " / ".join(parts)


def best_baseline(policies: Mapping[str, Mapping[str, Any]]) -> tuple[str, Mapping[str, Any]] | None:
    """The dynamic baseline (not wva-ray, not upstream WVA, not static) with the highest attainment (ties: fewer
    GPU-hours)."""
    skip = {*OURS, *UPSTREAM, STATIC}
    others = [(n, r) for n, r in policies.items() if n not in skip and r.get("slo_attainment")]
    if not others:
        return None
    return max(others, key=lambda nr: (round(float(nr[1]["slo_attainment"]), 3), -float(nr[1].get("gpu_hours", 0))))


def summary_table(doc: Mapping[str, Any]) -> str:
    """One row per scenario: attainment ± CI / GPU-h (x the oracle at that attainment) for each compared policy."""
    head = [
        "scenario",
        "causal max att.",
        *OURS,
        "upstream V2 + KEDA",
        "upstream V1 + HPA",
        STATIC,
        "best other baseline (name)",
    ]
    lines = [
        f"Source: {len(doc.get('runs', [])) or 1} run(s) (exact commands in the results' `command`/`runs`) at commit "
        f"`{doc.get('commit', '?')}` on {doc.get('machine', '?')}; seeds per scenario: "
        + ", ".join(f"{n} {len(s.get('seeds', []))}" for n, s in doc.get("scenarios", {}).items())
        + ".",
        "Cells: SLO attainment ± 95 % CI / GPU-hours (x the oracle's GPU-hours at the same per-model attainment, x"
        " the causal bound's at that attainment where a reactive policy can reach it).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, scn in doc.get("scenarios", {}).items():
        pol = scn.get("policies", {})
        causal = scn.get("bounds", {}).get("causal_max_attainment")
        best = best_baseline(pol)
        cells = [
            name,
            "-" if causal is None else f"{causal:.3f}",
            *(_cell(pol.get(p)) for p in OURS),
            _cell(pol.get("wva-upstream-v2-keda")),
            _cell(pol.get("wva-upstream-v1-hpa")),
            _cell(pol.get(STATIC)),
            "-" if best is None else f"{_cell(best[1])} ({best[0]})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} (benchmarks/results_table.py; do not edit) -->", f"<!-- /generated:{name} -->"


def replace_block(text: str, name: str, body: str) -> str:
    start, end = _markers(name)
    if start not in text or end not in text:
        raise ValueError(f"no generated block {name!r}: add the lines {start!r} and {end!r}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def current_block(text: str, name: str) -> str | None:
    start, end = _markers(name)
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def numbers_outside_blocks(text: str) -> list[str]:
    """Benchmark-like figures (percentages, 'x' ratios, GPU-h, attainment decimals) outside generated blocks."""
    stripped = re.sub(r"<!-- generated:.*?<!-- /generated:[^>]*-->", "", text, flags=re.S)
    stripped = re.sub(r"```.*?```", "", stripped, flags=re.S)  # commands and code are not prose figures
    stripped = re.sub(r"`[^`\n]*`", "", stripped)  # nor are definitions in code spans (targets, settings)
    return [m.group(0) for m in _NUMBER.finditer(stripped)]
