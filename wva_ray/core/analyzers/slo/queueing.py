"""Queueing building blocks for the SLO analyzer: a state-dependent birth-death chain and M/G/1 waiting times.

Pure numerics (numpy), no I/O, no clock.

- `chain_metrics(rate, service_rates, queue_limit)`: the stationary distribution of a birth-death chain with
  Poisson arrivals at `rate`, service rate `service_rates[n-1]` when `n` requests are in service (n = 1..N, N =
  the largest batch), a FIFO waiting room of `queue_limit` places in which the rate stays at `mu(N)`, and arrivals
  lost when all `N + queue_limit` places are taken. With constant rates this is M/M/1/K; with `mu(n) = n*mu` it is
  M/M/N/K. Computed in log space so thousands of states neither overflow nor underflow.
- `pk_mean_wait_s`: the Pollaczek-Khinchine mean wait of an M/G/1 FIFO queue (mean and squared coefficient of
  variation of the service time).
- `wait_quantile_s`: the q-quantile of a waiting time with an atom at 0 of mass `1 - p_wait` and an exponential
  tail matched to the mean (exact for M/M/1 and M/M/c; the usual two-moment approximation for M/G/1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaincinv

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ChainMetrics:
    """Stationary measures of a birth-death chain (counts are requests, times seconds)."""

    throughput_per_s: float  # accepted arrivals per second = rate * (1 - p_full)
    mean_in_system: float  # L
    mean_in_service: float  # sum over n of min(n, N) * p[n]
    mean_queue: float  # Lq = L - mean_in_service
    p_full: float  # probability all places are taken (arrivals lost)
    p_wait: float  # probability an accepted arrival finds all N service places busy (it queues)

    @property
    def mean_wait_s(self) -> float:
        """Mean time in the waiting room of an accepted arrival (Little's law)."""
        return self.mean_queue / self.throughput_per_s if self.throughput_per_s > 0 else 0.0

    @property
    def mean_response_s(self) -> float:
        return self.mean_in_system / self.throughput_per_s if self.throughput_per_s > 0 else 0.0


def _check(rate: float, queue_limit: int, n_servers: int) -> None:
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"rate must be a finite number >= 0, got {rate!r}")
    if queue_limit < 0:
        raise ValueError(f"queue_limit must be >= 0, got {queue_limit!r}")
    if n_servers < 1:
        raise ValueError(f"service_rates must have at least one entry, got {n_servers}")


def stationary_distribution(rate: float, service_rates: FloatArray, queue_limit: int) -> FloatArray:
    """p[n] for n = 0 .. N + queue_limit (N = len(service_rates)); see the module docstring."""
    mu = np.asarray(service_rates, dtype=np.float64)
    _check(rate, queue_limit, int(mu.size))
    if np.any(~np.isfinite(mu)) or np.any(mu <= 0):
        raise ValueError("service_rates must be finite and > 0")
    k = mu.size + queue_limit
    if rate == 0.0:
        out = np.zeros(k + 1)
        out[0] = 1.0
        return out
    all_mu = np.concatenate((mu, np.full(queue_limit, mu[-1])))
    log_p = np.empty(k + 1)
    log_p[0] = 0.0
    np.cumsum(math.log(rate) - np.log(all_mu), out=log_p[1:])
    log_p -= log_p.max()
    p = np.exp(log_p)
    p /= p.sum()
    return p


def metrics_from_distribution(rate: float, p: FloatArray, n_servers: int) -> ChainMetrics:
    """The measures of `ChainMetrics` from a stationary distribution over 0..K with `n_servers` service places."""
    n = np.arange(p.size, dtype=np.float64)
    in_service = np.minimum(n, float(n_servers))
    mean_in_system = float(p @ n)
    mean_in_service = float(p @ in_service)
    p_full = float(p[-1])
    accepted = 1.0 - p_full
    busy = float(p[n_servers:-1].sum()) if p.size - 1 > n_servers else 0.0
    return ChainMetrics(
        throughput_per_s=rate * accepted,
        mean_in_system=mean_in_system,
        mean_in_service=mean_in_service,
        mean_queue=max(0.0, mean_in_system - mean_in_service),
        p_full=p_full,
        p_wait=busy / accepted if accepted > 0 else 1.0,
    )


def chain_metrics(rate: float, service_rates: FloatArray, queue_limit: int) -> ChainMetrics:
    """Stationary measures of the chain (see the module docstring)."""
    p = stationary_distribution(rate, service_rates, queue_limit)
    return metrics_from_distribution(rate, p, int(np.asarray(service_rates).size))


def pk_mean_wait_s(rate: float, mean_service_s: float, service_scv: float) -> float:
    """Pollaczek-Khinchine: mean FIFO wait of M/G/1 = rate * E[S^2] / (2 (1 - rho)); inf when rho >= 1."""
    if rate < 0 or mean_service_s < 0 or service_scv < 0:
        raise ValueError(
            f"rate, mean_service_s and service_scv must be >= 0, got {rate!r}, {mean_service_s!r}, {service_scv!r}"
        )
    rho = rate * mean_service_s
    if rho >= 1.0:
        return math.inf
    second_moment = (1.0 + service_scv) * mean_service_s * mean_service_s
    return rate * second_moment / (2.0 * (1.0 - rho))


def wait_quantile_s(p_wait: float, mean_wait_s: float, quantile: float) -> float:
    """q-quantile of a wait that is 0 with probability 1 - p_wait and else exponential with the matching mean.

    P(W > t) = p_wait * exp(-t * p_wait / mean_wait)  =>  t_q = mean_wait / p_wait * ln(p_wait / (1 - q)).
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if math.isinf(mean_wait_s):
        return math.inf
    tail = 1.0 - quantile
    if p_wait <= tail or mean_wait_s <= 0.0:
        return 0.0
    return mean_wait_s / p_wait * math.log(p_wait / tail)


def gamma_quantile(mean: float, variance: float, quantile: float) -> float:
    """q-quantile of the gamma distribution with this mean and variance (the mean itself when variance is 0).

    Used for sums of waits and work whose shape runs from "mostly zero, long tail" (shape < 1) to near-normal
    (large shape): matching two moments with a gamma covers both ends.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if math.isinf(mean) or math.isinf(variance):
        return math.inf
    if mean <= 0.0:
        return 0.0
    if variance <= 0.0:
        return mean
    shape = mean * mean / variance
    return float(gammaincinv(shape, quantile)) * variance / mean
