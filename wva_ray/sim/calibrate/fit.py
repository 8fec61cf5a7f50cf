"""Fit a `Profile` (the numbers `profiles.yaml` carries) to measurements of one real engine. Pure (numpy/scipy).

- Decode: steady-state mean inter-token latency at several batch sizes and KV footprints gives
  `ITL_ms = alpha + beta * N + gamma * KV/1000`, fitted by non-negative least squares.
  With `prefill_tokens_per_s` given (the per-step prefill stall model), each sample is first taken net of the
  prompts prefilled while it decoded: in a closed loop of N clients about N - 1 other prompts start during one
  request's decode, each stretching one step by prompt / prefill_tokens_per_s, so its mean ITL carries
  (N - 1) x prompt / rate / (output - 1) of prefill (the averaged model folds that into the step instead).
- Prefill: TTFT of lone requests (max_tokens 1... 2) against the prompt length: the slope is
  1 / prefill_tokens_per_s; the intercept is one engine step plus the fixed per-request path (HTTP, hand-over
  to the engine core, first streamed chunk): `request_overhead_s` = intercept - one idle step.
- KV capacity, max_num_seqs, max_num_batched_tokens and block size come from the engine's configuration
  (`cache_config_info`), start-up from the measured time to `/health`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from wva_ray.sim.model.profiles import Profile


@dataclass(frozen=True, slots=True)
class ItlSample:
    """Mean ITL measured with `decoding` requests decoding together holding `kv_tokens` of KV on average."""

    decoding: float
    kv_tokens: float
    itl_s: float
    prompt_tokens: int = 0  # of every request of the run (0: unknown, no prefill correction)
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PrefillSample:
    prompt_tokens: int
    ttft_s: float


@dataclass(frozen=True, slots=True)
class DecodeFit:
    alpha_ms: float
    beta_ms: float
    gamma_ms_per_1k_kv: float
    rms_residual_ms: float


@dataclass(frozen=True, slots=True)
class PrefillFit:
    prefill_tokens_per_s: float
    intercept_ms: float
    rms_residual_ms: float


def net_of_prefill(sample: ItlSample, prefill_tokens_per_s: float) -> float:
    """The sample's mean ITL less the prefill stalls of the other clients' prompts (see the module docstring)."""
    if sample.output_tokens < 2 or sample.prompt_tokens <= 0:
        return sample.itl_s
    stalls = max(0.0, sample.decoding - 1.0) * sample.prompt_tokens / prefill_tokens_per_s
    return max(sample.itl_s * 0.05, sample.itl_s - stalls / (sample.output_tokens - 1))


def fit_decode(samples: Sequence[ItlSample], prefill_tokens_per_s: float | None = None) -> DecodeFit:
    """Non-negative least squares of ITL on (1, N, KV/1000), net of prefill stalls when `prefill_tokens_per_s`
    is given. Needs at least 3 samples."""
    if len(samples) < 3:
        raise ValueError(f"decode fit needs at least 3 ITL samples, got {len(samples)}")
    a = np.array([[1.0, s.decoding, s.kv_tokens / 1000.0] for s in samples])
    if prefill_tokens_per_s is None:
        y = np.array([s.itl_s * 1000.0 for s in samples])
    else:
        y = np.array([net_of_prefill(s, prefill_tokens_per_s) * 1000.0 for s in samples])
    coef, _ = nnls(a, y)
    resid = a @ coef - y
    alpha = max(float(coef[0]), 1e-3)  # Profile requires alpha > 0
    return DecodeFit(alpha, float(coef[1]), float(coef[2]), float(np.sqrt(np.mean(resid**2))))


def fit_prefill(samples: Sequence[PrefillSample]) -> PrefillFit:
    """Least squares TTFT = intercept + prompt / rate, over at least two distinct prompt lengths."""
    lengths = {s.prompt_tokens for s in samples}
    if len(lengths) < 2:
        raise ValueError(f"prefill fit needs at least 2 distinct prompt lengths, got {sorted(lengths)}")
    x = np.array([float(s.prompt_tokens) for s in samples])
    y = np.array([s.ttft_s * 1000.0 for s in samples])
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        raise ValueError(f"prefill fit: TTFT does not grow with the prompt (slope {slope:.4g} ms/token)")
    resid = intercept + slope * x - y
    return PrefillFit(1000.0 / float(slope), float(intercept), float(np.sqrt(np.mean(resid**2))))


def request_overhead_s(decode: DecodeFit, prefill: PrefillFit) -> float:
    """The fixed per-request path: the prefill fit's intercept (TTFT of an empty prompt on an idle engine) less
    the one idle step that prefills and samples it (>= 0)."""
    return max(0.0, (prefill.intercept_ms - decode.alpha_ms) / 1000.0)


def fitted_profile(
    profile_id: str,
    model: str,
    decode: DecodeFit,
    prefill: PrefillFit,
    kv_capacity_tokens: int,
    max_num_seqs: int,
    max_num_batched_tokens: int,
    block_size: int,
    startup_s: float,
) -> Profile:
    """The fitted numbers as a profile of the same shape as profiles.yaml (accelerator `CPU`)."""
    return Profile(
        id=profile_id,
        model=model,
        accelerator="CPU",
        gpus=1,
        alpha_ms=round(decode.alpha_ms, 4),
        beta_ms=round(decode.beta_ms, 5),
        gamma_ms_per_1k_kv=round(decode.gamma_ms_per_1k_kv, 5),
        prefill_tokens_per_s=round(prefill.prefill_tokens_per_s, 1),
        kv_capacity_tokens=kv_capacity_tokens,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        block_size=block_size,
        startup_s=round(startup_s, 1),
        relative_cost=1.0,
    )
