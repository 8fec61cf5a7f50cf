"""The largest arrival rate one replica serves within a class's targets (its "SLO capacity"). Pure, no I/O.

Both the TTFT and the ITL quantile grow with the arrival rate, so the feasible rates form an interval
[0, rate*]; `max_rate` brackets rate* between a tiny rate and the replica's hard limit (prefill saturation or
decode saturation at the admission cap) and narrows the bracket in log space (Illinois regula falsi) to a relative
precision of `rel_tol`; the returned rate is always one that was evaluated as feasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from wva_ray.core.analyzers.slo.perf_model import Latency, LatencyTargets, ReplicaPerfModel

Binding = Literal["itl", "ttft", "capacity", "infeasible"]
DEFAULT_REL_TOL = 0.005
UNSTABLE = 5.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """rate* (req/s per replica), which target binds there, and the predicted latencies at rate*.

    `meets_targets` is False for a best-effort rate (`max_rate_or_fallback`'s median or hard-limit fallback, or
    `max_rate`'s 0): a replica there does not meet the class's targets at its quantiles at any rate.
    """

    rate_per_s: float
    binding: Binding
    at: Latency
    meets_targets: bool = True


def _meets(lat: Latency, targets: LatencyTargets) -> bool:
    return lat.stable and lat.itl_q_ms <= targets.itl_ms and lat.ttft_q_ms <= targets.ttft_ms


def _excess(lat: Latency, targets: LatencyTargets) -> float:
    """log of the worst latency/target ratio: <= 0 when both targets are met; a large constant when unstable."""
    if not lat.stable:
        return UNSTABLE
    return min(UNSTABLE, math.log(max(lat.itl_q_ms / targets.itl_ms, lat.ttft_q_ms / targets.ttft_ms)))


def _binding(lat: Latency, targets: LatencyTargets) -> Binding:
    if not lat.stable:
        return "capacity"
    itl_excess = lat.itl_q_ms / targets.itl_ms
    ttft_excess = lat.ttft_q_ms / targets.ttft_ms
    return "itl" if itl_excess >= ttft_excess else "ttft"


def max_rate(model: ReplicaPerfModel, targets: LatencyTargets, rel_tol: float = DEFAULT_REL_TOL) -> RateLimit:
    """rate* for `model` under `targets` (0 with binding "infeasible" when even a trickle misses them)."""
    if not 0 < rel_tol < 1:
        raise ValueError(f"rel_tol must be in (0, 1), got {rel_tol!r}")
    hard = 0.999 * min(model.prefill_capacity_per_s(), model.decode_capacity_per_s())
    top = model.latency(hard, targets)
    if _meets(top, targets):
        return RateLimit(rate_per_s=hard, binding="capacity", at=top)
    lo = hard * 1e-4
    lo_lat = model.latency(lo, targets)
    if not _meets(lo_lat, targets):
        return RateLimit(rate_per_s=0.0, binding="infeasible", at=lo_lat, meets_targets=False)
    hi, hi_lat = hard, top
    guess = 0.9 * model.fluid_rate_for_itl(targets.itl_ms)
    if lo < guess < hi:
        lat = model.latency(guess, targets)
        if _meets(lat, targets):
            lo, lo_lat = guess, lat
        else:
            hi, hi_lat = guess, lat
    # Illinois (modified regula falsi) on log(rate) of the worst target ratio: a bracketing method like bisection,
    # so rate* stays feasible, but it converges in about a third of the evaluations on these smooth curves.
    x_lo, x_hi = math.log(lo), math.log(hi)
    f_lo, f_hi = _excess(lo_lat, targets), _excess(hi_lat, targets)
    side = 0
    log_tol = math.log1p(rel_tol)
    while x_hi - x_lo > log_tol:
        if f_hi >= UNSTABLE:  # no slope information yet: bisect
            x = 0.5 * (x_lo + x_hi)
        else:
            x = (x_lo * f_hi - x_hi * f_lo) / (f_hi - f_lo)
            x = min(max(x, x_lo + 0.25 * log_tol), x_hi - 0.25 * log_tol)
        lat = model.latency(math.exp(x), targets)
        f = _excess(lat, targets)
        if f <= 0:
            x_lo, f_lo, lo, lo_lat = x, f, math.exp(x), lat
            if f > -0.5 * rel_tol and x + log_tol < x_hi:
                # Close to the targets: test one tolerance step above to close the bracket from the other side.
                up = model.latency(math.exp(x + log_tol), targets)
                f_up = _excess(up, targets)
                if f_up > 0:
                    break
                x_lo, f_lo, lo, lo_lat = x + log_tol, f_up, math.exp(x + log_tol), up
            if side == -1:
                f_hi /= 2
            side = -1
        else:
            x_hi, f_hi, hi_lat = x, f, lat
            if side == 1:
                f_lo /= 2
            side = 1
    return RateLimit(rate_per_s=lo, binding=_binding(hi_lat, targets), at=lo_lat)


FALLBACK_UTILIZATION = 0.7


def max_rate_or_fallback(model: ReplicaPerfModel, targets: LatencyTargets) -> tuple[RateLimit, str]:
    """rate* at the class's quantiles; when even a trickle misses them there (a long-prompt mix whose own prefill
    exceeds the TTFT target at the 95th percentile, say), the best effort instead, with a note saying so:
    first the same targets at the median, then `FALLBACK_UTILIZATION` of the replica's hard limit. Both fallbacks
    come back with `meets_targets` False, so sizing can use such a variant only after the ones that meet them.
    """
    lim = max_rate(model, targets)
    if lim.rate_per_s > 0:
        return lim, ""
    median = LatencyTargets(targets.itl_ms, targets.ttft_ms, 0.5, 0.5)
    lim = max_rate(model, median)
    if lim.rate_per_s > 0:
        note = "targets unreachable at the class quantiles here; sized for the median instead"
        return replace(lim, meets_targets=False), note
    hard = FALLBACK_UTILIZATION * min(model.prefill_capacity_per_s(), model.decode_capacity_per_s())
    at = model.latency(hard, targets)
    note = f"targets unreachable here even at the median; sized at {FALLBACK_UTILIZATION:.0%} of the hard limit"
    return RateLimit(rate_per_s=hard, binding="capacity", at=at, meets_targets=False), note
