"""Online estimation of one (model, accelerator)'s performance parameters from what vLLM exports. Pure, no I/O.

State `x = [alpha_ms, beta_ms, gamma_ms_per_1k_kv, prefill_ms_per_1k_tokens]` (the last is 1e6 / prefill tokens/s).
One observation per window (one variant, e.g. one minute) carries the mean ITL and the mean TTFT (from the
`vllm:inter_token_latency_seconds` and `vllm:time_to_first_token_seconds` histograms: rate(_sum)/rate(_count)),
the mean running batch, the mean KV tokens in use, the arrival rate and the mean input/output tokens.

Estimator: an extended Kalman filter (random-walk parameters; the same measurement functions as `perf_model`:
`ITL = 1/((1-rho)/d + rho/(d+c))` with `d = alpha + beta*n + gamma*KV/1000`, and
`TTFT = W_prefill + I/P + ITL` with the Pollaczek-Khinchine prefill wait), with:
- prior: the profile table's row, relative std `prior_rel_std` (the table says +-25 % for derived rows);
- robust gating on the normalised innovation squared (NIS, chi-square with 2 degrees of freedom): above
  `reject_nis` the window is dropped and counted; between `huber_nis` and `reject_nis` its noise is inflated by
  NIS/huber_nis (Huber weighting), so a single bad window moves nothing or little;
- bounds: every parameter stays within [1/`bound_factor`, `bound_factor`] x its prior value, and one update moves a
  parameter by at most `max_step_ratio` of its value (smoothing);
- TTFT is only used in windows without an admission queue (waiting ~ 0), where the model above is complete.

Confidence: 1 - sqrt(mean over parameters of posterior variance / prior variance), clamped to [0, 1]: 0 = the
profile alone, towards 1 as varied observations pin every parameter down (one operating point is not enough).
The state is a frozen value passed in and returned; the runtime persists it (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from wva_ray.core.analyzers.slo.perf_model import PerfParams
from wva_ray.core.analyzers.slo.queueing import pk_mean_wait_s

N_PARAMS = 4


@dataclass(frozen=True, slots=True)
class EstimatorSettings:
    prior_rel_std: float = 0.25
    process_rel_std: float = 0.01  # random-walk drift per update, relative to the prior value
    itl_noise_rel: float = 0.05
    ttft_noise_rel: float = 0.15
    huber_nis: float = 5.99  # chi2(2) 95 %
    reject_nis: float = 13.8  # chi2(2) 99.9 %
    bound_factor: float = 4.0
    max_step_ratio: float = 0.15
    max_waiting_for_ttft: float = 0.5
    input_cv: float = 1.0


@dataclass(frozen=True, slots=True)
class PerfObservation:
    """One window of one variant's vLLM signals (means over the window; times in ms, rate in req/s per replica)."""

    itl_ms: float
    ttft_ms: float | None
    running: float
    kv_tokens: float
    rate_per_s: float
    input_tokens: float
    output_tokens: float
    waiting: float = 0.0


@dataclass(frozen=True, slots=True)
class EstimatorState:
    """Parameter estimate, covariance (row-major 4x4) and bookkeeping. Start with `initial_state(profile)`."""

    x: tuple[float, ...]
    cov: tuple[float, ...]
    prior: tuple[float, ...]
    updates: int = 0
    rejected: int = 0
    last_nis: float = 0.0
    confidence: float = 0.0

    def params(self, base: PerfParams) -> PerfParams:
        """`base` (the profile row) with the learned alpha, beta, gamma and prefill rate."""
        return replace(
            base,
            alpha_ms=self.x[0],
            beta_ms=self.x[1],
            gamma_ms_per_1k_kv=self.x[2],
            prefill_tokens_per_s=1e6 / self.x[3],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": list(self.x),
            "cov": list(self.cov),
            "prior": list(self.prior),
            "updates": self.updates,
            "rejected": self.rejected,
            "lastNis": self.last_nis,
            "confidence": self.confidence,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> EstimatorState:
        """Inverse of `to_dict`; ValueError names the bad key."""
        try:
            x = tuple(float(v) for v in data["x"])
            cov = tuple(float(v) for v in data["cov"])
            prior = tuple(float(v) for v in data["prior"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"estimator state: missing or invalid key ({err})") from err
        if len(x) != N_PARAMS or len(prior) != N_PARAMS or len(cov) != N_PARAMS * N_PARAMS:
            raise ValueError(f"estimator state: x/prior need {N_PARAMS} values and cov {N_PARAMS**2}, got {data!r}")
        if not all(math.isfinite(v) and v > 0 for v in prior):
            raise ValueError(f"estimator state: prior must be finite and > 0, got {prior!r}")
        return EstimatorState(
            x=x,
            cov=cov,
            prior=prior,
            updates=int(data.get("updates", 0)),
            rejected=int(data.get("rejected", 0)),
            last_nis=float(data.get("lastNis", 0.0)),
            confidence=float(data.get("confidence", 0.0)),
        )


def _prior_vector(base: PerfParams) -> np.ndarray[Any, np.dtype[np.float64]]:
    # beta/gamma may be 0 in a profile; give them a small positive scale so bounds and noise make sense.
    return np.array(
        [
            base.alpha_ms,
            max(base.beta_ms, 1e-3 * base.alpha_ms),
            max(base.gamma_ms_per_1k_kv, 1e-3 * base.alpha_ms),
            1e6 / base.prefill_tokens_per_s,
        ]
    )


def initial_state(base: PerfParams, settings: EstimatorSettings = EstimatorSettings()) -> EstimatorState:
    """The prior: the profile row with relative std `prior_rel_std` on every parameter."""
    x0 = _prior_vector(base)
    cov = np.diag((settings.prior_rel_std * x0) ** 2)
    prior = tuple(float(v) for v in x0)
    x = (base.alpha_ms, base.beta_ms, base.gamma_ms_per_1k_kv, prior[3])
    return EstimatorState(x=x, cov=tuple(float(v) for v in cov.ravel()), prior=prior)


def _predict(
    x: np.ndarray[Any, np.dtype[np.float64]], obs: PerfObservation, base: PerfParams, cv: float
) -> tuple[float, float]:
    """(ITL ms, TTFT ms) the model predicts for this window with parameters `x`."""
    alpha, beta, gamma, u_ms = (float(v) for v in x)
    d = alpha + beta * obs.running + gamma * obs.kv_tokens / 1000.0
    per_token_s = u_ms / 1e6
    chunk = max(1.0, base.max_num_batched_tokens - obs.running)
    c = chunk * per_token_s * 1000.0
    p_eff_s = (d / 1000.0 + chunk * per_token_s) / chunk if obs.running > 0 else per_token_s
    rho = min(obs.rate_per_s * obs.input_tokens * p_eff_s, 0.99)
    itl = 1.0 / ((1.0 - rho) / d + rho / (d + c))
    s_mean = obs.input_tokens * p_eff_s
    wait = pk_mean_wait_s(obs.rate_per_s, s_mean, cv * cv)
    wait = min(wait, 1e3)
    return itl, (wait + s_mean) * 1000.0 + itl


def _valid(obs: PerfObservation) -> str:
    values = (obs.itl_ms, obs.running, obs.kv_tokens, obs.rate_per_s, obs.input_tokens, obs.output_tokens)
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return f"non-finite or negative signal in {obs!r}"
    if obs.itl_ms <= 0 or obs.running < 0.5 or obs.rate_per_s <= 0:
        return "idle window (no ITL, running or arrivals)"
    return ""


def update(
    state: EstimatorState, obs: PerfObservation, base: PerfParams, settings: EstimatorSettings = EstimatorSettings()
) -> tuple[EstimatorState, str]:
    """One EKF step; returns the new state and what happened (for the decision's explanation)."""
    why = _valid(obs)
    if why:
        return state, f"estimator: skipped ({why})"
    prior = np.array(state.prior)
    x = np.array(state.x)
    cov = np.array(state.cov).reshape(N_PARAMS, N_PARAMS)
    cov = cov + np.diag((settings.process_rel_std * prior) ** 2)
    use_ttft = obs.ttft_ms is not None and math.isfinite(obs.ttft_ms) and obs.waiting <= settings.max_waiting_for_ttft
    cv = settings.input_cv
    h0 = np.array(_predict(x, obs, base, cv))
    y = np.array([obs.itl_ms, obs.ttft_ms if use_ttft and obs.ttft_ms is not None else h0[1]])
    jac = np.empty((2, N_PARAMS))
    for i in range(N_PARAMS):
        step = 1e-4 * prior[i]
        xp = x.copy()
        xp[i] += step
        jac[:, i] = (np.array(_predict(xp, obs, base, cv)) - h0) / step
    noise = np.array([(settings.itl_noise_rel * y[0]) ** 2, (settings.ttft_noise_rel * max(y[1], 1.0)) ** 2])
    if not use_ttft:
        jac[1, :] = 0.0
        noise[1] = 1.0
    innov = y - h0
    s_mat = jac @ cov @ jac.T + np.diag(noise)
    s_inv = np.linalg.inv(s_mat)
    nis = float(innov @ s_inv @ innov)
    if nis > settings.reject_nis:
        rejected = replace(state, rejected=state.rejected + 1, last_nis=nis)
        return rejected, f"estimator: window rejected as an outlier (NIS {nis:.1f} > {settings.reject_nis})"
    if nis > settings.huber_nis:
        s_mat = jac @ cov @ jac.T + np.diag(noise * nis / settings.huber_nis)
        s_inv = np.linalg.inv(s_mat)
    gain = cov @ jac.T @ s_inv
    dx = gain @ innov
    limit = settings.max_step_ratio * np.maximum(np.abs(x), 1e-3 * prior)
    dx = np.clip(dx, -limit, limit)
    new_x = np.clip(x + dx, prior / settings.bound_factor, prior * settings.bound_factor)
    new_cov = (np.eye(N_PARAMS) - gain @ jac) @ cov
    new_cov = 0.5 * (new_cov + new_cov.T)
    prior_var = (settings.prior_rel_std * prior) ** 2
    confidence = 1.0 - math.sqrt(float(np.mean(np.diag(new_cov) / prior_var)))
    out = EstimatorState(
        x=tuple(float(v) for v in new_x),
        cov=tuple(float(v) for v in new_cov.ravel()),
        prior=state.prior,
        updates=state.updates + 1,
        rejected=state.rejected,
        last_nis=nis,
        confidence=min(1.0, max(0.0, confidence)),
    )
    return out, f"estimator: updated (NIS {nis:.1f}, confidence {out.confidence:.2f})"
