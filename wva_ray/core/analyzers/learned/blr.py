"""Bayesian linear regression with a prior and exponential forgetting (recursive form). Pure, no I/O.

Model: `y = x . theta + e`, `e ~ N(0, sigma^2 / w)` with per-observation weight `w`. The state keeps the
posterior mean `theta`, the unscaled covariance `P` (parameter covariance = `sigma^2 P`) and the noise estimate
as the pair (`noise_a`, `noise_b`) of a Normal-Inverse-Gamma posterior (`sigma^2 ~ b / a`). Each update is one
recursive-least-squares step:

    P <- P / f                 (forgetting f in (0, 1]: old windows weigh f^age, so drift is tracked)
    s  = 1/w + x' P x           (predictive variance of y, in units of sigma^2)
    k  = P x / s
    theta <- theta + k (y - x' theta) ;  P <- P - k k' s
    a <- f a + w/2 ;  b <- f b + e^2 / (2 s)   (bounded below by the prior's a0, b0: sigma never collapses)

Robustness: an observation whose standardised residual exceeds `huber_k` is down-weighted (Huber), one beyond
`reject_k` is dropped and counted. `P` stays symmetric positive definite (symmetrised, diagonal floored).
Parameters may be clipped to `[lower, upper]` (physical bounds such as "a step is never negative").

The state is a frozen value with `to_dict` / `from_dict` for `plan.state`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Vec = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BlrSettings:
    forgetting: float = 0.995  # per update; ~200 windows of memory
    huber_k: float = 2.5
    reject_k: float = 6.0
    prior_strength: float = 2.0  # pseudo-observations behind the prior noise estimate


@dataclass(frozen=True, slots=True)
class BlrState:
    theta: tuple[float, ...]
    p: tuple[float, ...]  # row-major d x d, unscaled covariance
    noise_a: float
    noise_b: float
    prior_a: float
    prior_b: float
    samples: int = 0
    rejected: int = 0

    @property
    def dim(self) -> int:
        return len(self.theta)

    @property
    def noise_var(self) -> float:
        return self.noise_b / self.noise_a

    def cov(self) -> Vec:
        """Posterior covariance of the parameters (sigma^2 P)."""
        return self.noise_var * np.array(self.p).reshape(self.dim, self.dim)

    def std(self) -> tuple[float, ...]:
        return tuple(float(math.sqrt(max(v, 0.0))) for v in np.diag(self.cov()))

    def predict(self, x: Sequence[float]) -> tuple[float, float]:
        """Mean and standard deviation of `x . theta` (the parameter uncertainty only, no noise)."""
        xv = np.asarray(x, dtype=np.float64)
        mean = float(xv @ np.array(self.theta))
        var = float(xv @ self.cov() @ xv)
        return mean, math.sqrt(max(var, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "theta": list(self.theta),
            "p": list(self.p),
            "noiseA": self.noise_a,
            "noiseB": self.noise_b,
            "priorA": self.prior_a,
            "priorB": self.prior_b,
            "samples": self.samples,
            "rejected": self.rejected,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> BlrState:
        """Inverse of `to_dict`; ValueError names the bad key."""
        try:
            theta = tuple(float(v) for v in data["theta"])
            p = tuple(float(v) for v in data["p"])
            vals = {k: float(data[k]) for k in ("noiseA", "noiseB", "priorA", "priorB")}
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"regression state: missing or invalid key ({err})") from err
        d = len(theta)
        if d == 0 or len(p) != d * d:
            raise ValueError(f"regression state: theta has {d} values, p needs {d * d}, got {len(p)}")
        if not all(math.isfinite(v) for v in (*theta, *p)) or min(vals.values()) <= 0:
            raise ValueError(f"regression state: non-finite values or non-positive noise terms in {dict(data)!r}")
        return BlrState(
            theta,
            p,
            vals["noiseA"],
            vals["noiseB"],
            vals["priorA"],
            vals["priorB"],
            int(data.get("samples", 0)),
            int(data.get("rejected", 0)),
        )


def prior(mean: Sequence[float], std: Sequence[float], noise_std: float, s: BlrSettings = BlrSettings()) -> BlrState:
    """A prior with independent parameters (`mean` +- `std`) and a noise guess `noise_std`."""
    if len(mean) != len(std) or not mean:
        raise ValueError(f"prior: mean and std need the same non-zero length, got {len(mean)} and {len(std)}")
    if not (math.isfinite(noise_std) and noise_std > 0):
        raise ValueError(f"prior: noise_std must be finite and > 0, got {noise_std!r}")
    if not all(math.isfinite(v) and v > 0 for v in std):
        raise ValueError(f"prior: every std must be finite and > 0, got {tuple(std)!r}")
    var = noise_std * noise_std
    a = s.prior_strength / 2.0
    p = np.diag([(sd * sd) / var for sd in std])
    return BlrState(tuple(float(m) for m in mean), tuple(float(v) for v in p.ravel()), a, a * var, a, a * var)


def update(
    state: BlrState,
    x: Sequence[float],
    y: float,
    weight: float = 1.0,
    s: BlrSettings = BlrSettings(),
    lower: Sequence[float] | None = None,
    upper: Sequence[float] | None = None,
) -> tuple[BlrState, str]:
    """One recursive step (see the module docstring); returns the new state and what happened."""
    d = state.dim
    xv = np.asarray(x, dtype=np.float64)
    if xv.shape != (d,) or not np.all(np.isfinite(xv)) or not math.isfinite(y):
        return state, f"skipped (non-finite or wrong-sized observation x={list(x)!r}, y={y!r})"
    if not (math.isfinite(weight) and weight > 0):
        return state, f"skipped (weight must be > 0, got {weight!r})"
    f = s.forgetting
    p = np.array(state.p).reshape(d, d) / f
    theta = np.array(state.theta)
    px = p @ xv
    sv = 1.0 / weight + float(xv @ px)
    err = y - float(xv @ theta)
    z = abs(err) / math.sqrt(state.noise_var * sv)
    if z > s.reject_k and state.samples >= 3:
        return BlrState(
            state.theta,
            state.p,
            state.noise_a,
            state.noise_b,
            state.prior_a,
            state.prior_b,
            state.samples,
            state.rejected + 1,
        ), f"rejected as an outlier ({z:.1f} sigma)"
    w = weight
    note = "updated"
    if z > s.huber_k:
        w = weight * s.huber_k / z
        sv = 1.0 / w + float(xv @ px)
        note = f"updated with reduced weight ({z:.1f} sigma)"
    k = px / sv
    theta = theta + k * err
    p = p - np.outer(k, k) * sv
    p = 0.5 * (p + p.T)
    diag = np.diag(p).copy()
    floor = 1e-12 * max(1.0, float(np.max(np.abs(diag))))
    np.fill_diagonal(p, np.maximum(diag, floor))
    if lower is not None:
        theta = np.maximum(theta, np.asarray(lower, dtype=np.float64))
    if upper is not None:
        theta = np.minimum(theta, np.asarray(upper, dtype=np.float64))
    a = max(f * state.noise_a + 0.5 * w, state.prior_a)
    b = max(f * state.noise_b + 0.5 * err * err / sv, state.prior_b * a / state.prior_a * 0.05)
    out = BlrState(
        tuple(float(v) for v in theta),
        tuple(float(v) for v in p.ravel()),
        a,
        b,
        state.prior_a,
        state.prior_b,
        state.samples + 1,
        state.rejected,
    )
    return out, note


def clip(state: BlrState, lower: Sequence[float] | None = None, upper: Sequence[float] | None = None) -> BlrState:
    """The state with its mean clipped to hard bounds learned elsewhere (the covariance is kept)."""
    theta = np.array(state.theta)
    if lower is not None:
        theta = np.maximum(theta, np.asarray(lower, dtype=np.float64))
    if upper is not None:
        theta = np.minimum(theta, np.asarray(upper, dtype=np.float64))
    out = tuple(float(v) for v in theta)
    if out == state.theta:
        return state
    return BlrState(
        out, state.p, state.noise_a, state.noise_b, state.prior_a, state.prior_b, state.samples, state.rejected
    )
