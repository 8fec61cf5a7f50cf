"""The online performance model of one variant (model x accelerator), learned from what vLLM exports. Pure.

Two Bayesian linear regressions (`blr`), one window of one pod per update:

- decode step `d = alpha + beta * n + gamma * KV / 1000` (ms), from the pod's mean inter-token latency over the
  window (`vllm:inter_token_latency_seconds` _sum/_count deltas), its mean running batch `n` and mean KV tokens in
  use (`vllm:kv_cache_usage_perc` x `cache_config_info` blocks x block size). Chunked prefill stretches every step
  by `1 / (1 - rho)`, rho = prompt tokens/s x prefill time per token (the current prefill estimate), so the
  regression target is `ITL x (1 - rho)` (windows with rho above `MAX_RHO_FOR_STEP` are skipped: a pod that is
  prefill-bound says little about its decode step);
- prefill time per 1k prompt tokens `u` (ms), from the mean prefill time per request
  (`vllm:request_prefill_time_seconds` _sum/_count, else TTFT - queue time) and the mean prompt length of the
  window: the measured time holds the request's own prefill `S = I u / 1000` plus the M/G/1 wait behind other
  prefills, `lambda (1 + cv^2) S^2 / (2 (1 - lambda S))`; that is inverted for `S`, then `S ~ u I / 1000`.

A hard bound from every window: a pod cannot prefill faster than its prefill speed, so `u <= 1e6 / prompt tokens
per second` (in an overload, when the pod is prefill-bound and the two regressions have nothing to learn from,
this bound is what pins the prefill speed down).

KV capacity, max-num-seqs and max-num-batched-tokens are read, not learned (cache_config_info, vLLM args).

Prior, best first: the variant's own learned state; a configured or built-in profile row (+-25 %); the learned
model of a similar variant (same model on another accelerator, or another model on the same accelerator; +-50 %);
a conservative default (+-50 %). `pessimistic(params, ...)` turns the posterior into the parameters sizing uses:
the step and prefill time at the operating point raised by `z` standard deviations, so headroom shrinks as the
model gets sure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from wva_ray.core.analyzers.learned import blr
from wva_ray.core.analyzers.slo.perf_model import PerfParams

DEFAULT_PARAMS = PerfParams(10.0, 0.03, 0.06, 15_000.0)  # a mid-range 8B-class engine; only a starting point
DEFAULT_REL_STD = 0.5
SIMILAR_REL_STD = 0.5
PROFILE_REL_STD = 0.25
MIN_ITL_TOKENS = 20.0  # inter-token samples a window needs to count
MIN_PREFILLS = 3.0
MAX_RHO_FOR_PREFILL = 0.8
MAX_RHO_FOR_STEP = 0.7  # beyond, the 1 / (1 - rho) correction is too uncertain (a prefill-saturated pod)


@dataclass(frozen=True, slots=True)
class PerfWindow:
    """One pod's window of vLLM signals (means over `window_s`, counts are increases over it)."""

    window_s: float
    itl_mean_ms: float | None
    itl_tokens: float
    running_mean: float
    kv_tokens_mean: float
    prompt_tokens_per_s: float
    prefill_mean_ms: float | None
    prefills: float
    input_tokens_mean: float | None


@dataclass(frozen=True, slots=True)
class PerfLearnerState:
    """The learned performance model of one variant."""

    step: blr.BlrState  # [alpha, beta, gamma] in ms, per sequence, per 1k KV tokens
    prefill: blr.BlrState  # [u] ms per 1k prompt tokens
    prior_source: str

    def params(self, base: PerfParams) -> PerfParams:
        """`base` (capacity limits) with the learned mean step and prefill parameters."""
        alpha, beta, gamma = self.step.theta
        u = self.prefill.theta[0]
        return replace(
            base,
            alpha_ms=max(alpha, 0.05),
            beta_ms=max(beta, 0.0),
            gamma_ms_per_1k_kv=max(gamma, 0.0),
            prefill_tokens_per_s=1e6 / max(u, 1e-3),
        )

    @property
    def samples(self) -> int:
        return self.step.samples

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.to_dict(), "prefill": self.prefill.to_dict(), "priorSource": self.prior_source}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> PerfLearnerState:
        try:
            return PerfLearnerState(
                blr.BlrState.from_dict(data["step"]),
                blr.BlrState.from_dict(data["prefill"]),
                str(data.get("priorSource", "")),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"performance state: missing or invalid key ({err})") from err


def initial_state(params: PerfParams, rel_std: float, source: str) -> PerfLearnerState:
    """A prior centred on `params` with relative std `rel_std` on every parameter."""
    a, b, g = params.alpha_ms, params.beta_ms, params.gamma_ms_per_1k_kv
    step = blr.prior(
        (a, b, g),
        (rel_std * a, rel_std * max(b, 0.01 * a / 10), rel_std * max(g, 0.01 * a / 10)),
        noise_std=0.05 * a,
    )
    u = 1e6 / params.prefill_tokens_per_s
    pre = blr.prior((u,), (rel_std * u,), noise_std=0.1 * u)
    return PerfLearnerState(step, pre, source)


def _prefill_service_s(measured_s: float, rate_per_s: float, scv: float) -> float | None:
    """Invert `T = S + rate (1 + scv) S^2 / (2 (1 - rate S))` for the own prefill S (bisection); None if none."""
    if measured_s <= 0:
        return None
    if rate_per_s <= 0:
        return measured_s
    lo, hi = 0.0, min(measured_s, 0.999 / rate_per_s)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        t = mid + rate_per_s * (1.0 + scv) * mid * mid / (2.0 * (1.0 - rate_per_s * mid))
        if t > measured_s:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def update(state: PerfLearnerState, w: PerfWindow, input_cv: float = 1.0) -> tuple[PerfLearnerState, str]:
    """One pod window; returns the new state and a short note."""
    notes: list[str] = []
    step, pre = state.step, state.prefill
    if w.prompt_tokens_per_s > 0:  # a pod never prefills faster than its prefill speed: u <= 1e6 / throughput
        bounded = blr.clip(pre, upper=(1e6 / w.prompt_tokens_per_s,))
        if bounded is not pre:
            pre = bounded
            notes.append("prefill bounded by the observed prompt throughput")
    u_ms = max(pre.theta[0], 1e-3)
    rho = min(0.95, max(0.0, w.prompt_tokens_per_s * u_ms / 1e6))
    if (
        w.itl_mean_ms is not None
        and w.itl_tokens >= MIN_ITL_TOKENS
        and w.running_mean >= 0.5
        and rho <= MAX_RHO_FOR_STEP
    ):
        y = w.itl_mean_ms * (1.0 - rho)
        x = (1.0, w.running_mean, w.kv_tokens_mean / 1000.0)
        weight = min(1.0, w.itl_tokens / 500.0)
        step, note = blr.update(step, x, y, weight, lower=(0.05, 0.0, 0.0))
        notes.append(f"step {note}")
    if (
        w.prefill_mean_ms is not None
        and w.prefills >= MIN_PREFILLS
        and w.input_tokens_mean is not None
        and w.input_tokens_mean > 0
        and w.window_s > 0
    ):
        lam = w.prefills / w.window_s
        own_est = w.input_tokens_mean * u_ms / 1e6
        if lam * own_est < MAX_RHO_FOR_PREFILL:
            d_ms = step.theta[0] + step.theta[1] * w.running_mean + step.theta[2] * w.kv_tokens_mean / 1000.0
            measured = max(w.prefill_mean_ms - max(d_ms, 0.0), 0.05 * w.prefill_mean_ms) / 1000.0
            own = _prefill_service_s(measured, lam, input_cv * input_cv)
            if own is not None:
                weight = min(1.0, w.prefills / 20.0)
                pre, note = blr.update(pre, (w.input_tokens_mean / 1000.0,), own * 1000.0, weight, lower=(1e-3,))
                notes.append(f"prefill {note}")
    return PerfLearnerState(step, pre, state.prior_source), "; ".join(notes) or "nothing to learn from"


@dataclass(frozen=True, slots=True)
class Uncertainty:
    """What `wva-ray plan` shows per variant: values, standard deviations, samples."""

    alpha_ms: tuple[float, float]
    beta_ms: tuple[float, float]
    gamma_ms_per_1k_kv: tuple[float, float]
    prefill_tokens_per_s: tuple[float, float]
    samples: int
    prefill_samples: int

    def describe(self) -> str:
        pf, pf_sd = self.prefill_tokens_per_s
        return (
            f"alpha {self.alpha_ms[0]:.2f}+-{self.alpha_ms[1]:.2f} ms, beta {self.beta_ms[0]:.4f}+-"
            f"{self.beta_ms[1]:.4f} ms/seq, gamma {self.gamma_ms_per_1k_kv[0]:.4f}+-"
            f"{self.gamma_ms_per_1k_kv[1]:.4f} ms/1k KV, prefill {pf:.0f}+-{pf_sd:.0f} tok/s "
            f"({self.samples} step / {self.prefill_samples} prefill windows)"
        )


def uncertainty(state: PerfLearnerState) -> Uncertainty:
    sa, sb, sg = state.step.std()
    a, b, g = state.step.theta
    u, su = state.prefill.theta[0], state.prefill.std()[0]
    pf = 1e6 / max(u, 1e-3)
    pf_sd = pf * su / max(u, 1e-3)  # delta method
    return Uncertainty((a, sa), (b, sb), (g, sg), (pf, pf_sd), state.step.samples, state.prefill.samples)


def pessimistic(state: PerfLearnerState, base: PerfParams, batch: float, kv_tokens: float, z: float) -> PerfParams:
    """The mean parameters with the step at (`batch`, `kv_tokens`) and the prefill time raised by `z` sd."""
    mean = state.params(base)
    d_mean, d_sd = state.step.predict((1.0, batch, kv_tokens / 1000.0))
    factor = 1.0 + z * d_sd / max(d_mean, 1e-6)
    u, su = state.prefill.theta[0], state.prefill.std()[0]
    pf_factor = 1.0 + z * su / max(u, 1e-6)
    if not (math.isfinite(factor) and math.isfinite(pf_factor)):
        return mean
    return replace(
        mean,
        alpha_ms=mean.alpha_ms * factor,
        beta_ms=mean.beta_ms * factor,
        gamma_ms_per_1k_kv=mean.gamma_ms_per_1k_kv * factor,
        prefill_tokens_per_s=mean.prefill_tokens_per_s / pf_factor,
    )
