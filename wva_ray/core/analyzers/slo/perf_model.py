"""Performance model of one vLLM replica of a (model, accelerator) pair, and the largest arrival rate it serves
within a service class's targets. Pure (numpy + math), no I/O, no clock.

Parameters are the alpha/beta/gamma form of ../shared/data/profiles (per engine step, milliseconds):
`d(n) = alpha + beta*n + gamma*KV/1000` for a batch of n sequences, KV = n * (I + O*(1+cv_out^2)/2) tokens (mean
input I, output O; the running requests are length-biased towards long outputs). Chunked prefill shares a step
with decoding: while a prefill is pending a step carries `C = max_num_batched_tokens - n` prompt tokens, so prefill
runs at `P_eff = C / (d + C/P)` tokens/s and keeps the engine busy a fraction `rho = rate * I / P_eff`.

Why this model (and not Inferno's single chain with prefill folded into the service time):
- Decode with continuous batching is a (generalised) processor-sharing queue: every running sequence advances one
  token per step of length `ITL(n)`. Its batch size is the birth-death chain of `queueing` with
  `mu(n) = n / (O * ITL(n))` up to the admission cap `N = min(max_num_seqs, 0.9*KV capacity / KV per request)`,
  then a FIFO waiting room (`queue_limit` places). Processor-sharing queues are insensitive to the service-time
  distribution, so below the cap the chain holds for any output-length distribution with mean O, not only the
  exponential one a birth-death chain nominally assumes; the cap and the waiting room model KV/seq admission.
- `ITL(n) = d(n) / (1 - rho)` (the profile README's chunked-prefill rule). Mean ITL = time in decode / O =
  L_in_service / (throughput * O). Against the simulator's replica this is within ~5 % up to rho ~0.5 and
  conservative (+15 %) near saturation.
- Prefill is first come, first served: an M/G/1 queue with service `I_req / P_eff`, Pollaczek-Khinchine mean
  wait (needs the input-length coefficient of variation `input_cv`; Azure conv is about 0.5-1.3, code 1-1.7).
- TTFT = admission wait (chain) + prefill wait (M/G/1) + own prefill + one decode step. Its q-quantile is taken
  from a gamma matched to the mean and variance of wait + own prefill (the wait modelled as an atom at zero plus
  an exponential tail, exact for M/M/1): `queueing.gamma_quantile`.
- Per-request ITL (what an SLO on "mean ITL of a request" sees) = (O*d + X) / O, X = the prefill work the request
  waits behind while it decodes: the backlog left when its decode starts plus the prefill work arriving during it.
  Its q-quantile uses a gamma matched to X's mean and variance, at the harmonic-mean output length
  O / (1 + cv_out^2) (short requests dominate the spread). Batch-size fluctuation within a request is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wva_ray.core.analyzers.slo.queueing import gamma_quantile, pk_mean_wait_s

KV_ADMISSION_RATIO = 0.9
MAX_PREFILL_BUSY = 0.995
_TAIL_SIGMAS = 12.0


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class PerfParams:
    """How fast one replica of one (model, accelerator) serves (one row of the profile table)."""

    alpha_ms: float
    beta_ms: float
    gamma_ms_per_1k_kv: float
    prefill_tokens_per_s: float
    max_num_seqs: int = 256
    kv_capacity_tokens: float = 400_000.0
    max_num_batched_tokens: int = 8192

    def __post_init__(self) -> None:
        _positive("alpha_ms", self.alpha_ms)
        _positive("beta_ms", self.beta_ms, allow_zero=True)
        _positive("gamma_ms_per_1k_kv", self.gamma_ms_per_1k_kv, allow_zero=True)
        _positive("prefill_tokens_per_s", self.prefill_tokens_per_s)
        _positive("kv_capacity_tokens", self.kv_capacity_tokens)
        if self.max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be >= 1, got {self.max_num_seqs!r}")
        if self.max_num_batched_tokens < 1:
            raise ValueError(f"max_num_batched_tokens must be >= 1, got {self.max_num_batched_tokens!r}")

    def iteration_ms(self, batch: float, kv_tokens: float) -> float:
        """One decode step for `batch` sequences holding `kv_tokens` KV tokens (= ITL without prefill)."""
        return self.alpha_ms + self.beta_ms * batch + self.gamma_ms_per_1k_kv * kv_tokens / 1000.0

    def prefill_ms(self, tokens: float) -> float:
        """Prefill of `tokens` prompt tokens on an otherwise idle replica."""
        return 1000.0 * tokens / self.prefill_tokens_per_s


@dataclass(frozen=True, slots=True)
class TokenMix:
    """Mean input and output tokens per request, and the input length's coefficient of variation."""

    input_tokens: float
    output_tokens: float
    input_cv: float = 1.0
    output_cv: float = 1.0

    def __post_init__(self) -> None:
        _positive("input_tokens", self.input_tokens, allow_zero=True)
        _positive("input_cv", self.input_cv, allow_zero=True)
        _positive("output_cv", self.output_cv, allow_zero=True)
        if not (math.isfinite(self.output_tokens) and self.output_tokens >= 1.0):
            raise ValueError(f"output_tokens must be a finite number >= 1, got {self.output_tokens!r}")

    @property
    def kv_per_request(self) -> float:
        """Mean KV tokens of a running request: I + E[O^2] / (2 E[O]) = I + O (1 + cv_out^2) / 2.

        Length-biased: a request with O output tokens stays O steps in the batch, so long ones are over-represented
        among the running requests (with cv_out = 0 this is the naive I + O/2)."""
        return self.input_tokens + self.output_tokens * (1.0 + self.output_cv * self.output_cv) / 2.0


@dataclass(frozen=True, slots=True)
class LatencyTargets:
    """A class's targets and the percentiles at which they must hold (ms)."""

    itl_ms: float
    ttft_ms: float
    ttft_quantile: float = 0.95
    itl_quantile: float = 0.95

    def __post_init__(self) -> None:
        _positive("itl_ms", self.itl_ms)
        _positive("ttft_ms", self.ttft_ms)
        for name, q in (("ttft_quantile", self.ttft_quantile), ("itl_quantile", self.itl_quantile)):
            if not 0.5 <= q < 1.0:
                raise ValueError(f"{name} must be in [0.5, 1), got {q!r}")


@dataclass(frozen=True, slots=True)
class Latency:
    """Predicted latencies (ms) and load of one replica at `rate_per_s`."""

    rate_per_s: float
    itl_mean_ms: float
    itl_q_ms: float
    ttft_mean_ms: float
    ttft_q_ms: float
    mean_batch: float
    prefill_busy_ratio: float
    p_admission_wait: float
    stable: bool


def admission_cap(params: PerfParams, mix: TokenMix) -> int:
    """Largest running batch: max_num_seqs, or the KV admission limit at the mean request size."""
    by_kv = math.floor(KV_ADMISSION_RATIO * params.kv_capacity_tokens / max(mix.kv_per_request, 1.0))
    return max(1, min(params.max_num_seqs, by_kv))


class ReplicaPerfModel:
    """Latency of one replica as a function of its arrival rate, for fixed parameters and token mix.

    Built once per (params, mix) (a few arrays), then `latency(rate)` costs a handful of numpy operations over the
    states that carry probability mass. Immutable after construction.
    """

    __slots__ = ("_d_s", "_log_d_over_n", "_n", "_states", "cap", "mix", "params", "queue_limit")

    def __init__(self, params: PerfParams, mix: TokenMix, queue_limit: int | None = None) -> None:
        self.params = params
        self.mix = mix
        self.cap = admission_cap(params, mix)
        self.queue_limit = self.cap if queue_limit is None else queue_limit
        if self.queue_limit < 0:
            raise ValueError(f"queue_limit must be >= 0, got {queue_limit!r}")
        n = np.arange(1, self.cap + 1, dtype=np.float64)
        slope = params.beta_ms + params.gamma_ms_per_1k_kv * mix.kv_per_request / 1000.0
        self._n = n
        self._d_s = (params.alpha_ms + slope * n) / 1000.0
        self._log_d_over_n = np.log(self._d_s / n)  # log(ITL(n) / n) = this - log(1 - rho)
        self._states = np.arange(self.cap + self.queue_limit + 1, dtype=np.float64)

    def _prefill_rate(self, batch: float) -> float:
        """Prefill tokens/s while `batch` sequences decode (chunked prefill shares the step)."""
        p = self.params
        if batch < 1e-9:
            return p.prefill_tokens_per_s
        i = min(max(int(batch + 0.5), 1), self.cap) - 1
        chunk = max(1.0, p.max_num_batched_tokens - batch)
        return chunk / (float(self._d_s[i]) + chunk / p.prefill_tokens_per_s)

    def _fluid_batch(self, rate: float, rho: float) -> float:
        """Decode batch from the fluid fixed point n = rate * O * d(n) / (1 - rho); inf when it has none."""
        p, o = self.params, self.mix.output_tokens
        slope = p.beta_ms + p.gamma_ms_per_1k_kv * self.mix.kv_per_request / 1000.0
        denom = 1.0 - rho - rate * o * slope / 1000.0
        return math.inf if denom <= 0 else rate * o * (p.alpha_ms / 1000.0) / denom

    def latency(self, rate: float, targets: LatencyTargets) -> Latency:
        """Predicted latencies at arrival rate `rate` (req/s) per replica."""
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"rate must be a finite number >= 0, got {rate!r}")
        mix = self.mix
        o = mix.output_tokens
        p_eff = self.params.prefill_tokens_per_s
        rho = rate * mix.input_tokens / p_eff
        guess = self._fluid_batch(rate, min(rho, 0.999))
        if math.isfinite(guess):
            p_eff = self._prefill_rate(guess)
            rho = rate * mix.input_tokens / p_eff
        if rho >= MAX_PREFILL_BUSY:
            return _unstable(rate, rho)
        # Decode chain over the states that carry mass.
        guess = self._fluid_batch(rate, rho)
        top = self.cap
        if math.isfinite(guess):
            top = min(self.cap, int(guess + _TAIL_SIGMAS * math.sqrt(guess + 1.0) + 32))
        if rate <= 0:
            return _idle(float(self._d_s[0]) * 1000.0, self.params.prefill_ms(mix.input_tokens))
        # log(lambda / mu(n)) = log(rate * O * ITL(n) / n), ITL(n) = d(n) / (1 - rho)
        log_ratio = self._log_d_over_n[:top] + (math.log(rate * o) - math.log1p(-rho))
        queue = self.queue_limit if top == self.cap else 0
        log_p = np.empty(top + 1 + queue)
        log_p[0] = 0.0
        np.cumsum(log_ratio, out=log_p[1 : top + 1])
        states = self._states[: top + 1 + queue]
        if queue:
            log_p[top + 1 :] = log_p[top] + float(log_ratio[-1]) * (states[top + 1 :] - top)
        log_p -= log_p.max()
        prob = np.exp(log_p, out=log_p)
        prob /= prob.sum()
        in_service = float(prob[: top + 1] @ states[: top + 1]) + top * float(prob[top + 1 :].sum())
        p_full = float(prob[-1]) if queue else 0.0
        throughput = rate * (1.0 - p_full)
        if queue and (p_full > 1e-3 or throughput <= 0):
            return _unstable(rate, rho)
        l_queue = float(prob[top + 1 :] @ (states[top + 1 :] - top)) if queue else 0.0
        p_adm = float(prob[top:-1].sum()) / (1.0 - p_full) if queue else 0.0
        itl_mean_s = in_service / (throughput * o)
        w_adm = l_queue / throughput
        # Prefill queue (M/G/1) and TTFT.
        s_mean = mix.input_tokens / p_eff
        scv = mix.input_cv * mix.input_cv
        w_pf = pk_mean_wait_s(rate, s_mean, scv)
        p_any = 1.0 - (1.0 - p_adm) * (1.0 - rho)
        w_mean = w_adm + w_pf
        step_s = itl_mean_s * (1.0 - rho)  # the decode step at the mean batch, without prefill
        ttft_mean = w_mean + s_mean + itl_mean_s
        w_var = w_mean * w_mean * (2.0 / p_any - 1.0) if p_any > 0 else 0.0
        ttft_q = gamma_quantile(w_mean + s_mean, w_var + scv * s_mean * s_mean, targets.ttft_quantile)
        ttft_q += itl_mean_s
        # Per-request ITL: a request's decode time is O*step plus the prefill work it waits behind (the backlog
        # left when its decode starts, plus prefill work arriving during it), at the harmonic-mean output length.
        itl_q_s = itl_mean_s
        if rho > 0:
            o_h = max(1.0, o / (1.0 + mix.output_cv * mix.output_cv))
            t_dec = o_h * step_s / (1.0 - rho)
            v_mean = rho * (w_pf + s_mean)
            v_var = v_mean * v_mean * (2.0 / rho - 1.0)
            x_mean = v_mean + rho * t_dec
            x_var = v_var + rate * t_dec * (1.0 + scv) * s_mean * s_mean
            x_q = gamma_quantile(x_mean, x_var, targets.itl_quantile)
            itl_q_s = max(itl_mean_s, (o_h * step_s + x_q) / o_h)
        return Latency(
            rate_per_s=rate,
            itl_mean_ms=itl_mean_s * 1000.0,
            itl_q_ms=itl_q_s * 1000.0,
            ttft_mean_ms=ttft_mean * 1000.0,
            ttft_q_ms=ttft_q * 1000.0,
            mean_batch=in_service,
            prefill_busy_ratio=rho,
            p_admission_wait=p_adm,
            stable=True,
        )

    def fluid_rate_for_itl(self, itl_ms: float) -> float:
        """The rate at which the fluid fixed point `ITL = d(rate*O*ITL) / (1 - rho)` reaches `itl_ms` (a first
        guess for the capacity search; 0 when even an idle replica is slower)."""
        p, mix = self.params, self.mix
        slope = p.beta_ms + p.gamma_ms_per_1k_kv * mix.kv_per_request / 1000.0
        per_rate = mix.input_tokens / p.prefill_tokens_per_s + slope * mix.output_tokens / 1000.0
        return max(0.0, (1.0 - p.alpha_ms / itl_ms) / per_rate) if per_rate > 0 else math.inf

    def decode_capacity_per_s(self) -> float:
        """Requests/s the decoder completes at its admission cap with no prefill (an upper bound on any rate)."""
        return float(self._n[-1] / (self.mix.output_tokens * self._d_s[-1]))

    def prefill_capacity_per_s(self) -> float:
        """Requests/s the prefill engine can take at all (an upper bound on any rate)."""
        if self.mix.input_tokens <= 0:
            return math.inf
        return self.params.prefill_tokens_per_s / self.mix.input_tokens


def _unstable(rate: float, rho: float) -> Latency:
    return Latency(
        rate_per_s=rate,
        itl_mean_ms=math.inf,
        itl_q_ms=math.inf,
        ttft_mean_ms=math.inf,
        ttft_q_ms=math.inf,
        mean_batch=math.inf,
        prefill_busy_ratio=rho,
        p_admission_wait=1.0,
        stable=False,
    )


def _idle(step_ms: float, prefill_ms: float) -> Latency:
    return Latency(
        rate_per_s=0.0,
        itl_mean_ms=step_ms,
        itl_q_ms=step_ms,
        ttft_mean_ms=prefill_ms + step_ms,
        ttft_q_ms=prefill_ms + step_ms,
        mean_batch=0.0,
        prefill_busy_ratio=0.0,
        p_admission_wait=0.0,
        stable=True,
    )
