"""Analyzer `learned`: learn each variant online, size one model group for the demand's distribution. Pure.

`analyze(group, state, settings, now_s, library) -> EngineResult`, per cycle and model group:
1. token mix: the group's prompt/output tokens per request (token counters over completions, weighted memory);
2. per variant: the performance model (`perf`) updated with each pod's window, the start-up delay (`startup`)
   with each pod that became Ready since the last count; a variant seen for the first time starts from the best
   prior (`prior_for`: a configured/built-in profile row, a similar variant's learned model, a default);
3. per variant: the SLO rate per replica at the class's TTFT/ITL quantiles (`slo.capacity.max_rate_or_fallback`
   on `slo.perf_model.ReplicaPerfModel`), with the step and prefill time raised by `z_model` posterior sd at the
   operating point;
4. demand (`demand`): arrivals = completions + growth of running + waiting (+ gateway queue), Holt forecast over
   the planning start-up delay, spread at the sampling interval;
5. sizing (`sizing`): planned rate = forecast + `z_demand` x spread + backlog drain; up to the cheapest SLO
   capacity, down only after the spare capacity has paid back a restart. A variant whose capacity is a best-effort
   fallback (it cannot meet the class's targets at any rate) is used only after those that can, and goes first.

Without any arrival signal the group holds: it votes to hold during a warm-up (`warmup_s` from the first cycle)
and stops voting after it (upstream's "live" rule). With requests in flight but none completed yet it holds and
votes to hold (no other analyzer alone scales that fleet down). A group that
has never had a request and has none in flight is idle: it is sized for zero demand (a nominal token mix stands
in), so an idle fleet is given back after the scale-down window like any other spare capacity.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.learned import demand as dem
from wva_ray.core.analyzers.learned import perf, startup
from wva_ray.core.analyzers.learned import sizing as siz
from wva_ray.core.analyzers.learned.state import EngineState, VariantLearned, update_tokens
from wva_ray.core.analyzers.slo.capacity import max_rate_or_fallback
from wva_ray.core.analyzers.slo.perf_model import LatencyTargets, PerfParams, ReplicaPerfModel, TokenMix

# Stand-ins for the token mix of a group that has never completed a request and has none in flight: with zero
# demand the sizing needs a capacity only to order the variants for removal, so their values cannot buy a replica.
NOMINAL_INPUT_TOKENS = 1000.0
NOMINAL_OUTPUT_TOKENS = 200.0

Library = Mapping[tuple[str, str], perf.PerfLearnerState]  # (modelID, accelerator) -> learned model


@dataclass(frozen=True, slots=True)
class EngineSettings:
    # the share of requests that must meet each target in the replica model; 0.95 (not the 0.99 attainment goal):
    # the model's per-request ITL tail is conservative against the simulator, and 0.99 over-sized every quick run
    ttft_quantile: float = 0.95
    itl_quantile: float = 0.95
    z_model: float = 1.0
    unsure_ratio: float = 1.25  # mean / pessimistic SLO rate above which scale-up steps are limited
    unsure_samples: int = 10
    z_startup: float = 1.0
    input_cv: float = 1.0
    output_cv: float = 1.0
    token_memory: float = 5000.0
    warmup_s: float = 300.0  # without any arrival signal, hold (and vote to hold) this long, then stop voting
    sizing: siz.SizingSettings = field(default_factory=siz.SizingSettings)
    demand: dem.DemandSettings = field(default_factory=dem.DemandSettings)


@dataclass(frozen=True, slots=True)
class VariantInput:
    """One decidable variant and this cycle's observations of its pods."""

    key: str  # "namespace/name"
    name: str
    model_id: str
    accelerator: str
    cost_per_replica: float
    current: int
    ready: int
    pending: int
    limits: PerfParams  # max-num-seqs, KV capacity, max-num-batched-tokens (the rest is ignored)
    min_replicas: int = 0
    max_replicas: int | None = None
    profile: PerfParams | None = None  # a configured or built-in profile row (prior), if any
    profile_source: str = ""
    configured_startup_s: float | None = None
    windows: tuple[perf.PerfWindow, ...] = ()
    pod_starts: tuple[tuple[float, float], ...] = ()  # (created_s, ready_s)
    completions_per_s: float | None = None
    in_flight: float = 0.0  # running + waiting over the pods, now
    waiting: float = 0.0
    prompt_tokens: float = 0.0  # increases over the window, summed over pods
    generation_tokens: float = 0.0
    completions: float = 0.0


@dataclass(frozen=True, slots=True)
class GroupInput:
    namespace: str
    model_id: str
    target: ResolvedTarget
    variants: tuple[VariantInput, ...]
    gateway_queue: float = 0.0


@dataclass(frozen=True, slots=True)
class EngineResult:
    targets: dict[str, int]
    reasons: dict[str, str]
    steps: list[str]
    capacity_per_replica: dict[str, float]
    cost_per_capacity: dict[str, float]
    planned_per_s: float
    live: bool
    state: EngineState


def prior_for(v: VariantInput, library: Library) -> perf.PerfLearnerState:
    """Configured/built-in profile (+-25 %) > similar variant's learned model (+-50 %) > default (+-100 %)."""
    limits = v.limits
    if v.profile is not None:
        return perf.initial_state(v.profile, perf.PROFILE_REL_STD, v.profile_source or "profile")
    same_model = sorted((acc, s) for (m, acc), s in library.items() if m == v.model_id and acc != v.accelerator)
    same_acc = sorted((m, s) for (m, acc), s in library.items() if acc == v.accelerator and m != v.model_id)
    for label, found in (("same model on", same_model), ("same accelerator, model", same_acc)):
        for other, st in found:
            if st.samples >= 10:
                return perf.initial_state(st.params(limits), perf.SIMILAR_REL_STD, f"learned {label} {other}")
    return perf.initial_state(replace(perf.DEFAULT_PARAMS), perf.DEFAULT_REL_STD, "conservative default")


def _learn(
    v: VariantInput, known: VariantLearned | None, library: Library, s: EngineSettings, steps: list[str]
) -> VariantLearned:
    if known is None or known.accelerator != v.accelerator or known.model_id != v.model_id:
        p = prior_for(v, library)
        st = startup.prior(v.configured_startup_s, "configured" if v.configured_startup_s else "default")
        known = VariantLearned(v.model_id, v.accelerator, p, st)
        steps.append(f"{v.key}: new performance model from the prior ({p.prior_source})")
    state = known.perf
    for w in v.windows:
        state, _ = perf.update(state, w, s.input_cv)
    st, fresh = startup.observe(known.startup, v.pod_starts)
    if fresh:
        steps.append(f"{v.key}: {fresh} pod start(s) observed; start-up {st.mean_s:.0f} s mean")
    return VariantLearned(v.model_id, v.accelerator, state, st)


def _hold(group: GroupInput, state: EngineState, why: str, steps: list[str], live: bool = True) -> EngineResult:
    """Hold every variant at its current count.

    Live (a vote to hold) while warming up - requests in flight but none completed yet, or no request counters yet
    during the first `warmup_s` of the group: another analyzer alone must not scale a fleet down on first, empty
    scrapes (V2 then reads zero demand) or while it serves traffic this one cannot size yet; another analyzer may
    still scale up. Not live once the warm-up has passed without any arrival signal: as upstream v0.9 has it, an
    analyzer that cannot produce a result does not vote, and holding forever would keep the fleet at its size.
    """
    steps.append(f"learned: holding: {why}" + ("" if live else " (not voting)"))
    targets = {v.key: v.current for v in group.variants}
    reasons = {v.key: f"learned: holding at {v.current}: {why}" for v in group.variants}
    return EngineResult(targets, reasons, steps, {}, {}, 0.0, live, state)


def analyze(
    group: GroupInput, state: EngineState, s: EngineSettings, now_s: float, library: Library | None = None
) -> EngineResult:
    """Targets per variant key for one model group (see the module docstring)."""
    library = library or {}
    t = group.target
    targets = LatencyTargets(t.itl_ms, t.ttft_ms, s.ttft_quantile, s.itl_quantile)
    budget = (
        f"class {t.class_name}: ITL p{s.itl_quantile * 100:g} <= {t.itl_ms:g} ms, "
        f"TTFT p{s.ttft_quantile * 100:g} <= {t.ttft_ms:g} ms"
    )
    steps = [f"learned: model {group.namespace}/{group.model_id}, {budget}"]
    vs = group.variants
    tokens = update_tokens(
        state.tokens,
        math.fsum(v.prompt_tokens for v in vs),
        math.fsum(v.generation_tokens for v in vs),
        math.fsum(v.completions for v in vs),
        s.token_memory,
    )
    learned = dict(state.variants)
    for v in vs:
        learned[v.name] = _learn(v, state.variants.get(v.name), library, s, steps)
    first_seen = now_s if state.first_seen_s is None else state.first_seen_s
    state = replace(state, tokens=tokens, variants=learned, first_seen_s=first_seen)
    rates = [v.completions_per_s for v in vs if v.completions_per_s is not None]
    if not rates:
        if now_s - first_seen < s.warmup_s:
            return _hold(group, state, "no arrival signal (request counters) yet; warming up", steps)
        why = f"no arrival signal (request counters) for {now_s - first_seen:.0f} s"
        return _hold(group, state, why, steps, live=False)
    in_flight = math.fsum(v.in_flight for v in vs) + group.gateway_queue
    if tokens.input_mean is None or tokens.output_mean is None:
        if math.fsum(rates) > 0 or in_flight > 0:
            return _hold(group, state, "no token mix yet (requests in flight, none completed)", steps)
        mix = TokenMix(NOMINAL_INPUT_TOKENS, NOMINAL_OUTPUT_TOKENS, s.input_cv, s.output_cv)
        steps.append(
            f"learned: idle (no request yet): a nominal token mix {mix.input_tokens:.0f} in / "
            f"{mix.output_tokens:.0f} out stands in; with no demand it only decides when replicas may be given back"
        )
    else:
        mix = TokenMix(tokens.input_mean, max(tokens.output_mean, 1.0), s.input_cv, s.output_cv)
        steps.append(f"learned: token mix {mix.input_tokens:.0f} in / {mix.output_tokens:.0f} out per request")
    caps: list[siz.Capacity] = []
    per_replica: dict[str, float] = {}
    for v in vs:
        lv = learned[v.name]
        mean_params = lv.perf.params(v.limits)
        lim0, _ = max_rate_or_fallback(ReplicaPerfModel(mean_params, mix), targets)
        n0 = lim0.at.mean_batch if math.isfinite(lim0.at.mean_batch) else float(v.limits.max_num_seqs)
        pess = perf.pessimistic(lv.perf, v.limits, n0, n0 * mix.kv_per_request, s.z_model)
        lim, note = max_rate_or_fallback(ReplicaPerfModel(pess, mix), targets)
        capped = lim.rate_per_s > lim0.rate_per_s
        if capped:
            # the pessimistic model missed the targets and fell back to a share of its hard limit, which can be far
            # above the mean's SLO rate (70B H100x4 at ITL 22 ms: 5.8 against 0.25 req/s): uncertainty never adds
            # capacity, so the mean's rate bounds it
            note = (note + "; " if note else "") + f"capped at the mean model's {lim0.rate_per_s:.2f} req/s"
            lim = dataclasses.replace(lim, rate_per_s=lim0.rate_per_s)
        per_replica[v.key] = lim.rate_per_s
        st_plan = lv.startup.planning_s(s.z_startup)
        steps.append(
            f"{v.key}: learned {perf.uncertainty(lv.perf).describe()} [prior: {lv.perf.prior_source}]; start-up "
            f"{lv.startup.mean_s:.0f} s (+-{math.sqrt(lv.startup.var_s2):.0f}, {lv.startup.samples} pods) -> "
            f"plan {st_plan:.0f} s"
        )
        steps.append(
            f"{v.key}: {lim.rate_per_s:.2f} req/s per replica at SLO with model uncertainty "
            f"({lim0.rate_per_s:.2f} at the mean; binding {lim.binding})" + (f"; {note}" if note else "")
        )
        unsure = capped or lv.perf.samples < s.unsure_samples or lim0.rate_per_s > s.unsure_ratio * lim.rate_per_s
        max_add = max(4, v.ready) if unsure else None
        if unsure:
            steps.append(f"{v.key}: model still unsure: at most +{max_add} replicas this cycle")
        caps.append(
            siz.Capacity(
                v.key,
                v.cost_per_replica,
                lim.rate_per_s,
                v.current,
                v.ready,
                v.pending,
                st_plan,
                v.min_replicas,
                v.max_replicas,
                max_add,
                payback_s=lv.startup.mean_s,
                meets_slo=lim0.meets_targets,  # at the mean: an unsure model alone does not push a variant back
            )
        )
    backlog = math.fsum(v.waiting for v in vs) + group.gateway_queue
    window = siz.down_window_s(caps, s.sizing)  # burst headroom is kept as long as the capacity it bought
    demand_state, est = dem.observe(state.demand, math.fsum(rates), in_flight, now_s, s.demand, backlog, window)
    usable = siz.ranked(caps)
    horizon = (usable[0].startup_s if usable else 0.0) + s.sizing.interval_s
    ahead = dem.forecast(demand_state, est, now_s, horizon)
    planned = siz.planned_rate(est.level_per_s, ahead, est.spread_per_s, backlog, horizon, s.sizing)
    steps.append(
        f"learned: arrivals {est.observed_per_s:.2f} req/s (completions {math.fsum(rates):.2f} + in-flight growth), "
        f"level {est.level_per_s:.2f}, trend {est.trend_per_s2 * 60:+.3f}/min, spread {est.spread_per_s:.2f}, "
        f"forecast {ahead:.2f} over {horizon:.0f} s{' (daily profile)' if est.seasonal else ''}, backlog "
        f"{backlog:.0f} -> planned {planned:.2f} req/s"
    )
    plan = siz.size(caps, planned, state.down, now_s, s.sizing, est.span_rate_per_s)
    steps.extend(plan.steps)
    capable = any(c.meets_slo for c in caps if c.rate_per_replica >= siz.MIN_RATE_PER_S)
    best_effort = {
        c.key: "; cannot meet the class's targets here (best effort)"
        + (": used only after the variants that can" if capable else "")
        for c in caps
        if not c.meets_slo
    }
    reasons = {
        v.key: (
            f"learned: {budget}; planned {planned:.2f} req/s over {plan.horizon_s:.0f} s (supply "
            f"{plan.supply_per_s:.2f}); {per_replica[v.key]:.2f} req/s per replica here -> {plan.targets[v.key]}"
            + best_effort.get(v.key, "")
        )
        for v in vs
    }
    new_state = replace(state, demand=demand_state, down=plan.down)
    return EngineResult(
        plan.targets,
        reasons,
        steps,
        per_replica,
        {c.key: c.cost_per_capacity for c in caps},
        planned,
        True,
        new_state,
    )
