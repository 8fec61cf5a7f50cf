"""The replay's own warm-up as a paired fit: how much slower (or faster) the engine ran during the first seconds
of this very replay than the bracket probes predict, as one speed factor that scales the calibrated profile.
Pure.

For each request that arrived in [0, until_s) and decoded (mean ITL > 0, output known from the sequence), the
ratio of its measured mean ITL to the profile's step at the engine's mean running batch and KV use over its
decode span (the 1 s gauge samples); the factor is the median ratio. `scaled` applies it to every time of the
profile: step parameters x factor, prefill speed / factor (a shared CPU slows the whole engine alike).

`ttft_overhead` is the warm-up's fixed per-request path: the median, over the same requests, of the engine's TTFT
less the model's TTFT for that request without an overhead (the per-request path of a busy engine on a shared CPU
is longer than the idle intercept of the bracket probes: the API server waits for a core the engine holds).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from wva_ray.sim.calibrate.replay import ReplayRequest, ReplayResult
from wva_ray.sim.model.profiles import Profile

WARMUP_S = 40.0


def speed_factor(result: ReplayResult, requests: Sequence[ReplayRequest], profile: Profile, until_s: float) -> float:
    """Median measured-ITL / modelled-step ratio of the requests arriving before `until_s` (1.0 when none)."""
    outputs: dict[float, int] = {}
    for r in requests:
        outputs.setdefault(r.at_s, r.output_tokens)
    ratios = []
    for lat in result.latencies:
        out = outputs.get(lat.start_s, 0)
        if not lat.ok or lat.itl_s <= 0 or lat.start_s >= until_s or out < 2:
            continue
        lo = lat.start_s + lat.ttft_s
        hi = lo + lat.itl_s * (out - 1)
        inside = [s for s in result.samples if lo - 0.5 <= s.t_s <= hi + 0.5]
        if not inside:
            continue
        n = max(1, round(statistics.fmean(s.running for s in inside)))
        kv = statistics.fmean(s.kv_ratio for s in inside) * profile.kv_capacity_tokens
        ratios.append(lat.itl_s / profile.itl_s(n, kv))
    return statistics.median(ratios) if ratios else 1.0


def ttft_overhead(real: ReplayResult, model: ReplayResult, until_s: float) -> float:
    """Median (engine TTFT - model TTFT) of the requests arriving before `until_s` that both sides finished
    (matched by arrival time; >= 0; 0.0 when none)."""
    modelled: dict[float, float] = {}
    for lat in model.latencies:
        if lat.ok:
            modelled.setdefault(lat.start_s, lat.ttft_s)
    gaps = [
        lat.ttft_s - modelled[lat.start_s]
        for lat in real.latencies
        if lat.ok and lat.start_s < until_s and lat.start_s in modelled
    ]
    return max(0.0, statistics.median(gaps)) if gaps else 0.0


def scaled(profile: Profile, factor: float) -> Profile:
    """The profile on a machine `factor` times slower (factor > 1) or faster."""
    if factor <= 0:
        raise ValueError(f"speed factor must be > 0, got {factor}")
    return profile.model_copy(
        update={
            "alpha_ms": profile.alpha_ms * factor,
            "beta_ms": profile.beta_ms * factor,
            "gamma_ms_per_1k_kv": profile.gamma_ms_per_1k_kv * factor,
            "prefill_tokens_per_s": profile.prefill_tokens_per_s / factor,
        }
    )
