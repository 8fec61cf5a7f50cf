"""Analyzer `slo` (`analyzerName: slo`): size one model group's variants for its service class. Pure.

`analyze_slo(model, state, settings, now_s) -> SloResult` for the decidable variants of one model group:
1. token mix = the pods' mean input/output tokens (weighted by their arrival rates; the last known mix if no pod
   reports one this cycle);
2. per variant, the performance parameters = the profile row, refined by the online estimator when the caller
   passes an ITL/TTFT window for it (`estimator.update`; state per accelerator);
3. per variant, rate* = the largest arrival rate per replica meeting the class's TTFT and ITL quantiles
   (`capacity.max_rate`);
4. sizing (`sizing`): measured + forecast arrival rate over the start-up delay, replicas added where the cost per
   unit of SLO capacity is lowest, removed with hysteresis where it is highest; a variant that cannot meet the
   class's targets at any rate (its rate is `max_rate_or_fallback`'s best effort) comes after every one that can;
5. desired = max(SLO target, saturation safety net), where the safety net (the V1/V2 target the caller computed)
   counts only when it asks for more than the current count and no replica of the model is still starting:
   saturation may add replicas the model did not foresee, but it never blocks an SLO scale-down by merely holding,
   and it does not re-buy, every cycle, the queue that replicas already on their way will drain (V1's own rule:
   scale up only variants with nothing pending).

Without an arrival-rate signal the group holds (targets = current, plus the safety net), with the reason.
Every reason names the budget (class, targets, quantiles) and the rate it expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.slo import estimator as est
from wva_ray.core.analyzers.slo.capacity import RateLimit, max_rate_or_fallback
from wva_ray.core.analyzers.slo.perf_model import LatencyTargets, PerfParams, ReplicaPerfModel, TokenMix
from wva_ray.core.analyzers.slo.sizing import (
    MIN_RATE_PER_S,
    RateState,
    SizingSettings,
    VariantCapacity,
    size_variants,
    update_rate,
)


@dataclass(frozen=True, slots=True)
class SloSettings:
    """Knobs of analyzer `slo`. Quantiles: the share of requests that must meet each target in the model (upstream
    Inferno's SLOPercentile is 0.95). `input_cv`/`output_cv`: coefficients of variation of prompt and output
    lengths (vLLM's token histograms could supply them; 1.0 is the middle of the public traces)."""

    ttft_quantile: float = 0.95
    itl_quantile: float = 0.95
    input_cv: float = 1.0
    output_cv: float = 1.0
    sizing: SizingSettings = field(default_factory=SizingSettings)
    estimator: est.EstimatorSettings = field(default_factory=est.EstimatorSettings)


@dataclass(frozen=True, slots=True)
class SloVariantInput:
    """One decidable variant (one VA + its scale target) as the analyzer needs it."""

    key: str  # "namespace/name"
    accelerator: str
    cost_per_replica: float
    current: int
    ready: int
    pending: int
    params: PerfParams  # the profile row for (model, accelerator)
    startup_s: float = 180.0
    min_replicas: int | None = None
    max_replicas: int | None = None
    completions_per_s: float | None = None  # sum over pods of rate(vllm:request_success_total); None = unknown
    waiting: float = 0.0  # sum over pods of vllm:num_requests_waiting
    avg_input_tokens: float | None = None
    avg_output_tokens: float | None = None
    window: est.PerfObservation | None = None  # ITL/TTFT means over the window, for the estimator
    saturation_target: int | None = None  # the safety net: what V1/V2 would set


@dataclass(frozen=True, slots=True)
class SloModelInput:
    namespace: str
    model_id: str
    target: ResolvedTarget
    variants: tuple[SloVariantInput, ...]


@dataclass(frozen=True, slots=True)
class SloModelState:
    """What one model group carries to its next cycle (the runtime persists `to_dict()`)."""

    rate: RateState = field(default_factory=RateState)
    estimators: Mapping[str, est.EstimatorState] = field(default_factory=dict)
    last_input_tokens: float | None = None
    last_output_tokens: float | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.rate
        return {
            "rate": {
                "levelPerS": r.level_per_s,
                "trendPerS2": r.trend_per_s2,
                "lastS": r.last_s,
                "lastWaiting": r.last_waiting,
                "downSinceS": r.down_since_s,
                "downPeakPerS": r.down_peak_per_s,
            },
            "estimators": {k: v.to_dict() for k, v in sorted(self.estimators.items())},
            "lastInputTokens": self.last_input_tokens,
            "lastOutputTokens": self.last_output_tokens,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> SloModelState:
        """Inverse of `to_dict`; ValueError names the bad key."""
        try:
            r = data.get("rate", {})
            rate = RateState(
                level_per_s=float(r.get("levelPerS", 0.0)),
                trend_per_s2=float(r.get("trendPerS2", 0.0)),
                last_s=None if r.get("lastS") is None else float(r["lastS"]),
                last_waiting=float(r.get("lastWaiting", 0.0)),
                down_since_s=None if r.get("downSinceS") is None else float(r["downSinceS"]),
                down_peak_per_s=float(r.get("downPeakPerS", 0.0)),
            )
            ests = {str(k): est.EstimatorState.from_dict(v) for k, v in data.get("estimators", {}).items()}
            li, lo = data.get("lastInputTokens"), data.get("lastOutputTokens")
        except (AttributeError, TypeError, ValueError) as err:
            raise ValueError(f"slo state: invalid value ({err})") from err
        return SloModelState(
            rate=rate,
            estimators=ests,
            last_input_tokens=None if li is None else float(li),
            last_output_tokens=None if lo is None else float(lo),
        )


@dataclass(frozen=True, slots=True)
class SloResult:
    targets: dict[str, int]
    reasons: dict[str, str]
    steps: list[str]
    capacity_per_replica: dict[str, float]  # rate* per variant key (req/s); 0 = the class cannot be met there
    cost_per_capacity: dict[str, float]
    planned_rate_per_s: float
    state: SloModelState


def _mix(variants: Sequence[SloVariantInput], state: SloModelState) -> tuple[float, float] | None:
    weights = [
        (max(v.completions_per_s or 0.0, 1e-6), v.avg_input_tokens, v.avg_output_tokens)
        for v in variants
        if v.avg_input_tokens is not None and v.avg_output_tokens is not None and v.avg_output_tokens >= 1
    ]
    if weights:
        total = sum(w for w, _, _ in weights)
        i = sum(w * float(a or 0.0) for w, a, _ in weights) / total
        o = sum(w * float(b or 0.0) for w, _, b in weights) / total
        return i, o
    if state.last_input_tokens is not None and state.last_output_tokens is not None:
        return state.last_input_tokens, state.last_output_tokens
    return None


def _with_safety_net(v: SloVariantInput, slo_target: int, starting: int) -> tuple[int, str]:
    net = v.saturation_target
    if net is None or net <= v.current or net <= slo_target:
        return slo_target, ""
    if starting:
        return slo_target, f"saturation safety net ({net}) ignored while {starting} replica(s) of the model start"
    return net, f"saturation safety net asks for {net} (> SLO sizing {slo_target})"


def _hold(model: SloModelInput, state: SloModelState, why: str, steps: list[str]) -> SloResult:
    targets: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for v in model.variants:
        t, note = _with_safety_net(v, v.current, sum(x.pending for x in model.variants))
        targets[v.key] = t
        reasons[v.key] = f"slo: holding at {v.current}: {why}" + (f"; {note}" if note else "")
    steps.append(f"slo: {why}")
    return SloResult(targets, reasons, steps, {}, {}, 0.0, state)


def _learned_params(
    v: SloVariantInput, estimators: dict[str, est.EstimatorState], s: SloSettings, steps: list[str]
) -> PerfParams:
    known = estimators.get(v.accelerator)
    if known is None and v.window is None:
        return v.params  # nothing learned yet and nothing to learn from: the profile row
    current = known or est.initial_state(v.params, s.estimator)
    if v.window is not None:
        current, note = est.update(current, v.window, v.params, s.estimator)
        steps.append(f"{v.key}: {note}")
    estimators[v.accelerator] = current
    return current.params(v.params)


def analyze_slo(model: SloModelInput, state: SloModelState, settings: SloSettings, now_s: float) -> SloResult:
    """Targets per variant key for one model group (see the module docstring)."""
    t = model.target
    targets = LatencyTargets(t.itl_ms, t.ttft_ms, settings.ttft_quantile, settings.itl_quantile)
    budget = (
        f"class {t.class_name}: ITL p{targets.itl_quantile * 100:g} <= {t.itl_ms:g} ms, "
        f"TTFT p{targets.ttft_quantile * 100:g} <= {t.ttft_ms:g} ms"
    )
    steps = [f"slo: model {model.namespace}/{model.model_id}, {budget} ({t.source})"]
    mix_io = _mix(model.variants, state)
    if mix_io is None:
        return _hold(model, state, "no token mix (avg input/output tokens) reported yet", steps)
    rates = [v.completions_per_s for v in model.variants if v.completions_per_s is not None]
    if not rates:
        return _hold(model, state, "no arrival-rate signal (rate of vllm:request_success_total)", steps)
    mix = TokenMix(mix_io[0], max(mix_io[1], 1.0), settings.input_cv, settings.output_cv)
    estimators = dict(state.estimators)
    limits: dict[str, RateLimit] = {}
    caps: list[VariantCapacity] = []
    for v in model.variants:
        params = _learned_params(v, estimators, settings, steps)
        lim, note = max_rate_or_fallback(ReplicaPerfModel(params, mix), targets)
        limits[v.key] = lim
        if note:
            steps.append(f"{v.key}: {note}")
        steps.append(
            f"{v.key}: {lim.rate_per_s:.2f} req/s per replica at SLO (binding {lim.binding}; predicted ITL "
            f"p{targets.itl_quantile * 100:g} {lim.at.itl_q_ms:.1f} ms, TTFT p{targets.ttft_quantile * 100:g} "
            f"{lim.at.ttft_q_ms:.0f} ms; mix {mix.input_tokens:.0f}/{mix.output_tokens:.0f} tokens)"
        )
        caps.append(
            VariantCapacity(
                key=v.key,
                cost_per_replica=v.cost_per_replica,
                rate_per_replica=lim.rate_per_s,
                ready=v.ready,
                pending=v.pending,
                current=v.current,
                min_replicas=v.min_replicas or 0,
                max_replicas=v.max_replicas,
                startup_s=v.startup_s,
                meets_slo=lim.meets_targets,
            )
        )
    waiting = sum(v.waiting for v in model.variants)
    rate_state, rate_est = update_rate(state.rate, math.fsum(rates), waiting, now_s, settings.sizing)
    sized = size_variants(caps, rate_state, rate_est, now_s, settings.sizing)
    steps.extend(sized.steps)
    out_targets: dict[str, int] = {}
    reasons: dict[str, str] = {}
    capable = any(lim.meets_targets and lim.rate_per_s >= MIN_RATE_PER_S for lim in limits.values())
    for v in model.variants:
        lim = limits[v.key]
        final, note = _with_safety_net(v, sized.targets[v.key], sum(x.pending for x in model.variants))
        out_targets[v.key] = final
        best_effort = (
            "; cannot meet the class's targets here (best effort)"
            + (": used only after the variants that can" if capable else "")
            if not lim.meets_targets and lim.rate_per_s >= MIN_RATE_PER_S
            else ""
        )
        reasons[v.key] = (
            f"slo: {budget}; expected {sized.planned_rate_per_s:.2f} req/s over {sized.horizon_s:.0f} s "
            f"(supply {sized.supply_per_s:.2f}); {lim.rate_per_s:.2f} req/s per replica here -> {final}"
            + best_effort
            + (f"; {note}" if note else "")
        )
    new_state = replace(
        state,
        rate=sized.state,
        estimators=estimators,
        last_input_tokens=mix.input_tokens,
        last_output_tokens=mix.output_tokens,
    )
    return SloResult(
        targets=out_targets,
        reasons=reasons,
        steps=steps,
        capacity_per_replica={k: lim.rate_per_s for k, lim in limits.items()},
        cost_per_capacity={c.key: c.cost_per_capacity for c in caps},
        planned_rate_per_s=sized.planned_rate_per_s,
        state=new_state,
    )
