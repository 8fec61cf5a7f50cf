"""Analyzer `slo` as a simulated policy: builds the analyzer's inputs from the shared `Observation`, calls
`wva_ray.core.analyzers.slo.analyze_slo` per model every 30 s, and actuates directly. Pure, no I/O.

- Targets: each model's service class (the scenario's SLO class, as a VA label would name it).
- Parameters: the variant's profile row (the simulator exposes no ITL/TTFT histograms, so the online estimator
  gets no windows here and stays at its prior - which is the simulator's truth).
- Arrival rate: the pods' `rate(vllm:request_success_total)` over 1 m; queue: the pods' last waiting count.
- Safety net: wva-ray's own V2 (`analyzerName: saturation`) through the pure `decide()`; it only ever adds.
- GPU budget (S4): scale-ups are granted by model priority (lower first) within the free GPUs the observation
  reports; a variant that gets fewer replicas than asked keeps what it has (a stand-in for the global allocator).
"""

from __future__ import annotations

from collections.abc import Mapping

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.slo.analyzer import SloModelInput, SloModelState, SloSettings, SloVariantInput, analyze_slo
from wva_ray.core.analyzers.slo.perf_model import PerfParams
from wva_ray.sim.observe import Observation, VariantView
from wva_ray.sim.policies.wva_ray import WvaRay


def perf_params(v: VariantView) -> PerfParams:
    p = v.profile
    return PerfParams(
        alpha_ms=p.alpha_ms,
        beta_ms=p.beta_ms,
        gamma_ms_per_1k_kv=p.gamma_ms_per_1k_kv,
        prefill_tokens_per_s=p.prefill_tokens_per_s,
        max_num_seqs=p.max_num_seqs,
        kv_capacity_tokens=float(p.kv_capacity_tokens),
        max_num_batched_tokens=p.max_num_batched_tokens,
    )


def _mean(values: list[tuple[float, float]]) -> float | None:
    total = sum(w for w, _ in values)
    if not values:
        return None
    if total <= 0:
        return sum(x for _, x in values) / len(values)
    return sum(w * x for w, x in values) / total


def variant_input(v: VariantView, net: int | None) -> SloVariantInput:
    live = [p for p in v.pods if p.ready or p.draining]
    rates = [p.arrival_rate_1m for p in live if p.arrival_rate_1m is not None]
    ins = [(p.arrival_rate_1m or 0.0, p.avg_input_tokens_5m) for p in live if p.avg_input_tokens_5m is not None]
    outs = [(p.arrival_rate_1m or 0.0, p.avg_output_tokens_5m) for p in live if p.avg_output_tokens_5m is not None]
    return SloVariantInput(
        key=v.name,
        accelerator=v.profile.accelerator,
        cost_per_replica=v.cost_per_replica,
        current=v.current,
        ready=v.ready,
        pending=v.pending,
        params=perf_params(v),
        startup_s=v.startup_s,
        min_replicas=v.min_replicas,
        max_replicas=v.max_replicas,
        completions_per_s=sum(rates) if rates else None,
        waiting=sum(p.waiting_last or 0.0 for p in live),
        avg_input_tokens=_mean([(w, x) for w, x in ins if x is not None]),
        avg_output_tokens=_mean([(w, x) for w, x in outs if x is not None]),
        saturation_target=net,
    )


class SloPolicy:
    """Analyzer `slo` + V2 safety net, one object per simulation run (state carried between calls)."""

    def __init__(
        self,
        targets: Mapping[str, ResolvedTarget],
        name: str = "wva-ray-slo",
        settings: SloSettings | None = None,
        interval_s: float = 30.0,
        safety_net: bool = True,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.targets = dict(targets)
        self.settings = settings or SloSettings()
        self._net = WvaRay("safety-net", analyzer="saturation") if safety_net else None
        self._states: dict[str, SloModelState] = {}
        self.last_reasons: dict[str, str] = {}

    def decide(self, obs: Observation) -> Mapping[str, int]:
        nets = dict(self._net.decide(obs)) if self._net is not None else {}
        out: dict[str, int] = {}
        free = dict(obs.gpu_free) if obs.gpu_free is not None else None
        for model in sorted(obs.models, key=lambda m: (m.priority, m.name)):
            views = [v for v in obs.variants if v.model == model.name]
            if not views or model.name not in self.targets:
                continue
            inputs = tuple(variant_input(v, nets.get(v.name)) for v in views)
            state = self._states.get(model.name, SloModelState())
            res = analyze_slo(
                SloModelInput("sim", model.name, self.targets[model.name], inputs), state, self.settings, obs.now_s
            )
            self._states[model.name] = res.state
            for v in views:
                want = max(v.min_replicas, min(v.max_replicas, res.targets[v.name]))
                if free is not None and want > v.current:
                    gpus = v.profile.gpus
                    grant = min(want - v.current, max(0, free.get(v.profile.accelerator, 0)) // gpus)
                    free[v.profile.accelerator] = free.get(v.profile.accelerator, 0) - grant * gpus
                    want = v.current + grant
                out[v.name] = want
                self.last_reasons[v.name] = res.reasons[v.name]
        return out
