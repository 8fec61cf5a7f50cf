"""Analyzer `learned` as a stage of the pipeline: what `decide()` runs for a model group whose merged configuration
says `analyzerName: learned`. Pure.

Builds the analyzer's inputs from the pipeline's `Variant`s and the snapshot's optional per-pod windows
(`PodMetrics.window_seconds` ... `prefill_count`, `Pod.created_at` / `ready_at`), runs it, then combines its
targets with V2's (`analyzerName: saturation`) by upstream v0.9's rule (`core.analyzers.combine`: up if any
live analyzer asks, down only if every live one agrees), so V2 stays a safety net. The group's service class is
resolved as for analyzer `slo`; its priority feeds global allocation. State: `plan.state.learned[ns/modelID]`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from wva_ray.api.service_class import class_name_for, resolve_target
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.analyzers.base import AnalyzerSettings, GroupState, ModelGroup, PodRows, Sizing, SloContext
from wva_ray.core.analyzers.combine import Vote, combine
from wva_ray.core.analyzers.learned.analyzer import EngineSettings, GroupInput, VariantInput, analyze
from wva_ray.core.analyzers.learned.perf import PerfLearnerState, PerfWindow
from wva_ray.core.analyzers.learned.state import EngineState
from wva_ray.core.analyzers.slo.perf_model import PerfParams
from wva_ray.core.analyzers.slo.profiles import profile_for
from wva_ray.core.analyzers.v2 import DEFAULT_MAX_BATCHED_TOKENS, DEFAULT_MAX_NUM_SEQS, V2Analyzer, int_vllm_arg
from wva_ray.core.variants import Variant

DEFAULT_KV_TOKENS = 400_000.0


def _fin(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) and x >= 0 else None


def _window(m: PodMetrics, total_kv: float) -> PerfWindow | None:
    w = _fin(m.window_seconds)
    if w is None or w <= 0:
        return None
    itl_sum, itl_n = _fin(m.itl_seconds_sum), _fin(m.itl_count) or 0.0
    itl = itl_sum / itl_n * 1000.0 if itl_sum is not None and itl_n > 0 else None
    pf_sum, pf_n = _fin(m.prefill_seconds_sum), _fin(m.prefill_count) or 0.0
    prefill = pf_sum / pf_n * 1000.0 if pf_sum is not None and pf_n > 0 else None
    if prefill is None:
        tt_sum, tt_n = _fin(m.ttft_seconds_sum), _fin(m.ttft_count) or 0.0
        q_sum, q_n = _fin(m.queue_seconds_sum), _fin(m.queue_count) or 0.0
        if tt_sum is not None and tt_n > 0:
            queue_ms = q_sum / q_n * 1000.0 if q_sum is not None and q_n > 0 else 0.0
            prefill, pf_n = max(0.0, tt_sum / tt_n * 1000.0 - queue_ms), tt_n
    prompt = _fin(m.prompt_tokens)
    running = _fin(m.running_mean)
    if running is None:
        running = _fin(m.running) or 0.0
    kv = _fin(m.kv_usage_mean)
    return PerfWindow(
        window_s=w,
        itl_mean_ms=itl,
        itl_tokens=itl_n,
        running_mean=running,
        kv_tokens_mean=(kv if kv is not None else 0.0) * total_kv,
        prompt_tokens_per_s=(prompt or 0.0) / w,
        prefill_mean_ms=prefill,
        prefills=pf_n,
        input_tokens_mean=prompt / pf_n if prompt is not None and pf_n > 0 else None,
    )


def variant_input(v: Variant, rows: PodRows, ctx: SloContext) -> VariantInput:
    total_kv = float(max((s.total_kv_tokens for s in v.signals), default=0) or DEFAULT_KV_TOKENS)
    limits = PerfParams(
        1.0,
        0.0,
        0.0,
        1.0,
        int_vllm_arg(v.vllm_args, "--max-num-seqs", DEFAULT_MAX_NUM_SEQS),
        total_kv,
        int_vllm_arg(v.vllm_args, "--max-num-batched-tokens", DEFAULT_MAX_BATCHED_TOKENS),
    )
    prof = profile_for(v.model_id, v.accelerator, ctx.profiles)
    profile = None
    if prof is not None:
        p = prof.params
        profile = PerfParams(p.alpha_ms, p.beta_ms, p.gamma_ms_per_1k_kv, p.prefill_tokens_per_s, *_limits_of(limits))
    windows: list[PerfWindow] = []
    rate, rate_known, in_flight, waiting = 0.0, False, 0.0, 0.0
    prompt = gen = done = 0.0
    for sig in v.signals:
        m = rows.metrics(v.namespace, sig.pod)
        if m is None:
            continue
        win = _window(m, float(sig.total_kv_tokens or total_kv))
        if win is not None:
            windows.append(win)
        ok, w = _fin(m.completions), _fin(m.window_seconds)
        if ok is not None and w:
            rate, rate_known = rate + ok / w, True
            done += ok
            prompt += _fin(m.prompt_tokens) or 0.0
            gen += _fin(m.generation_tokens) or 0.0
        elif sig.arrival_rate is not None:
            rate, rate_known = rate + sig.arrival_rate, True
        wait_now = _fin(m.waiting_now)
        wait_now = sig.queue if wait_now is None else wait_now
        waiting += wait_now
        in_flight += (sig.running or 0.0) + wait_now
    if done <= 0:  # no token counters: the 5 m averages V2 reads stand in (one pseudo-request per pod)
        pairs = [(s.avg_in, s.avg_out) for s in v.signals if s.avg_out >= 1]
        done = float(len(pairs))
        prompt, gen = sum(a for a, _ in pairs), sum(b for _, b in pairs)
    starts = tuple(
        (p.created_at.timestamp(), p.ready_at.timestamp())
        for p in rows.pods_of(v.namespace, _target_name(v))
        if p.created_at is not None and p.ready_at is not None
    )
    return VariantInput(
        key=v.key,
        name=v.name,
        model_id=v.model_id,
        accelerator=v.accelerator,
        cost_per_replica=v.cost,
        current=v.current,
        ready=v.ready,
        pending=v.pending,
        limits=limits,
        min_replicas=v.min_replicas or 0,
        max_replicas=v.max_replicas,
        profile=profile,
        profile_source=prof.source if prof is not None else "",
        configured_startup_s=prof.startup_s if prof is not None else None,
        windows=tuple(windows),
        pod_starts=starts,
        completions_per_s=rate if rate_known else None,
        in_flight=in_flight,
        waiting=waiting,
        prompt_tokens=prompt,
        generation_tokens=gen,
        completions=done,
    )


def _limits_of(p: PerfParams) -> tuple[int, float, int]:
    return p.max_num_seqs, p.kv_capacity_tokens, p.max_num_batched_tokens


def _target_name(v: Variant) -> str:
    return v.va.spec.scale_target_ref.name


class _Peers:
    """Learned models of other groups, as priors for a variant seen for the first time (read lazily: only a new
    variant looks, and only at entries of its model or accelerator)."""

    def __init__(self, peers: Mapping[str, Mapping[str, Any]]) -> None:
        self._peers = peers

    def items(self) -> Iterator[tuple[tuple[str, str], PerfLearnerState]]:
        for group in self._peers.values():
            for entry in dict(group.get("variants", {})).values():
                try:
                    yield (str(entry["modelID"]), str(entry["accelerator"])), PerfLearnerState.from_dict(entry["perf"])
                except (KeyError, TypeError, ValueError):
                    continue


class LearnedAnalyzer:
    """The registry's entry for `analyzerName: learned` (see the module docstring)."""

    label: str = "learned"

    def __init__(self, engine: EngineSettings | None = None) -> None:
        self.engine = engine or EngineSettings()

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        variants = group.variants
        net = V2Analyzer().size(group, settings, state)
        warnings = list(net.warnings)
        requested = next(
            (
                n
                for v in sorted(variants, key=lambda v: v.name)
                if (n := class_name_for(v.va.metadata.labels, v.va.metadata.annotations))
            ),
            None,
        )
        target, warning = resolve_target(settings.slo.classes, requested, group.model_id)
        if warning:
            warnings.append(f"{group.key}: {warning}")
        try:
            learned = EngineState.from_dict(state.learned or {})
        except ValueError as err:
            warnings.append(f"{group.key}: {err}; starting afresh")
            learned = EngineState()
        inputs = GroupInput(
            group.namespace,
            group.model_id,
            target,
            tuple(variant_input(v, group.rows, settings.slo) for v in variants),
            group.gateway_queue,
        )
        library: dict[tuple[str, str], PerfLearnerState] = {}
        if _any_new(variants, learned):
            for key, peer in _Peers(state.learned_peers).items():
                if key not in library or peer.samples > library[key].samples:
                    library[key] = peer
        res = analyze(inputs, learned, self.engine, group.now.timestamp(), library)
        v2_live = net.capacity is not None and any(c > 0 for c in net.capacity.per_replica.values())
        combined = combine(
            {v.key: v.current for v in variants},
            [Vote("learned", res.targets, res.live), Vote("saturation", net.targets, v2_live)],
        )
        reasons: dict[str, str] = {}
        for v in variants:
            base = res.reasons.get(v.key, "")
            if combined.deciders[v.key] == "saturation" and combined.targets[v.key] != res.targets.get(v.key):
                base = f"{base}; V2 (saturation) asks for {combined.targets[v.key]}: {net.reasons.get(v.key, '')}"
            reasons[v.key] = base
        cpc = dict(net.cost_per_capacity)
        cpc.update({k: c for k, c in res.cost_per_capacity.items() if 0 < c < math.inf})
        steps = (*res.steps, *(f"V2 (saturation): {s}" for s in net.steps), *combined.steps)
        return Sizing(
            combined.targets,
            reasons,
            steps,
            cpc,
            class_priority=target.priority,
            history=net.history,
            learned_state=res.state.to_dict(),
            warnings=tuple(warnings),
        )


def _any_new(variants: Sequence[Variant], learned: EngineState) -> bool:
    return any(v.name not in learned.variants for v in variants)
