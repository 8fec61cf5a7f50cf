"""The calibration's results as data: the model variants compared with the engine (the default model, "before",
and each switch the calibration turns on, "after"), one record per repeat and the spread over repeats. Pure;
`report` renders the same dicts (README table and plot), `wva-ray calibrate` writes them as results.json.

Variants (all replay the same sequence with a profile fitted in the same repeat):
- `off`: the default model (`ReplicaOptions()`, as the bench uses it) with the plain decode fit.
- `overhead`: + the fixed per-request overhead fitted from the idle TTFT intercept.
- `stall`: per-step prefill stalls, with the decode fit taken net of the fit runs' own prefill stalls.
- `both`: overhead and stalls (the calibrated model).

Noise control (this machine is shared): each repeat measures the profile twice, right before and right after its
replay, and fits on both sets together; the drift between the two brackets is recorded as the repeat's own
measure of how much the machine changed under the replay. A second, paired fit comes from the replay itself
(`warmup`): the machine's speed during the replay's first `WARMUP_S` seconds relative to the bracket fit scales
the calibrated profile, and the TTFT gap there is its per-request overhead (`both_warm`); `heldout` compares
before / after / `both_warm` over the rest of the replay only (never on the seconds those two were fitted on).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from wva_ray.sim.calibrate.compare import Comparison
from wva_ray.sim.calibrate.fit import DecodeFit, PrefillFit
from wva_ray.sim.model.replica import ReplicaOptions

VARIANTS: tuple[str, ...] = ("off", "overhead", "stall", "both")
HELDOUT: tuple[str, ...] = ("off", "both", "both_warm")
BEFORE, AFTER = "off", "both"
ERROR_KEYS = ("ttft_p50", "ttft_p95", "itl_p50", "itl_p95", "waiting_nrmse", "ttft_p99", "itl_p99", "running_nrmse")
DRIFT_AT = ((1, 100.0), (8, 3000.0))  # (decoding, KV tokens) at which the two brackets' step times are compared


def variant_options(name: str, overhead_s: float) -> ReplicaOptions:
    """The replica options of one variant."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {VARIANTS}")
    return ReplicaOptions(
        request_overhead_s=overhead_s if name in ("overhead", "both") else 0.0,
        prefill_stall=name in ("stall", "both"),
    )


def uses_net_decode(name: str) -> bool:
    """Whether a variant's profile uses the decode fit net of prefill stalls (the stall variants)."""
    return name in ("stall", "both")


def _step_ms(fit: DecodeFit, n: int, kv: float) -> float:
    return fit.alpha_ms + fit.beta_ms * n + fit.gamma_ms_per_1k_kv * kv / 1000.0


def drift(pre: tuple[DecodeFit, PrefillFit], post: tuple[DecodeFit, PrefillFit]) -> dict[str, float]:
    """How the machine changed between the bracket before the replay and the one after (post vs pre, relative)."""
    out = {f"step_n{n}": _step_ms(post[0], n, kv) / _step_ms(pre[0], n, kv) - 1.0 for n, kv in DRIFT_AT}
    out["prefill_rate"] = post[1].prefill_tokens_per_s / pre[1].prefill_tokens_per_s - 1.0
    out["ttft_intercept_ms"] = post[1].intercept_ms - pre[1].intercept_ms
    return out


def comparison_record(c: Comparison) -> dict[str, Any]:
    return {
        "errors": c.errors,
        "within_targets": c.within_targets(),
        "percentiles": c.model_pct,
        "windows": [dataclasses.asdict(w) for w in c.model_windows],
    }


def repeat_record(
    profiles: Mapping[str, Any],
    overhead_s: float,
    fits: Mapping[str, Any],
    drift_rel: Mapping[str, float],
    load_avg: Mapping[str, float],
    runs: Mapping[str, Comparison],
) -> dict[str, Any]:
    """One repeat: profiles (plain and net of stalls), fits, bracket drift, load and one comparison per variant."""
    first = next(iter(runs.values()))
    return {
        "profiles": dict(profiles),
        "request_overhead_s": overhead_s,
        "fits": dict(fits),
        "drift": dict(drift_rel),
        "load_avg": dict(load_avg),
        "engine": {"percentiles": first.real_pct, "windows": [dataclasses.asdict(w) for w in first.real_windows]},
        "models": {name: comparison_record(c) for name, c in runs.items()},
    }


def spread(
    repeats: Sequence[Mapping[str, Any]], key: str = "models", names: Sequence[str] = VARIANTS
) -> dict[str, dict[str, dict[str, float]]]:
    """Per variant and error: min, median and max over the repeats (`key`: "models" or "heldout")."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        rows = [r[key][name]["errors"] for r in repeats if name in r.get(key, {})]
        if not rows:
            continue
        out[name] = {
            k: {"min": min(x[k] for x in rows), "median": statistics.median(x[k] for x in rows),
                "max": max(x[k] for x in rows)}
            for k in ERROR_KEYS
        }  # fmt: skip
    return out
