"""The throughput analyzer of WVA v0.9 (`analyzers: [{name: throughput}]`; upstream-v0.9.md section 3). Pure.

Model: the inter-token latency grows linearly with KV utilisation, ITL(k) = A*k + B, fitted by ordinary least
squares over the last 10-20 (k, ITL) samples of the model on one accelerator. In output tokens per second:
- supply of one replica  mu = (K_SAT * KVmax / KVreq) / ITL(K_SAT), with KVreq = I*(1 - hit) + O/2 and K_SAT 0.85
  (the requests that fit at 85 % KV, each emitting one token per ITL);
- demand  D = sum over pods of lambda * O + queue / (2 * ITL(K_SAT)), lambda the pod's arrival rate (req/s).
Then upstream's post-step for every analyzer: RC = max(0, D/scaleUp - anticipated supply), SC = max(0, supply -
D/scaleDown), allocated by the cost-aware optimizer (`v2.allocate_capacity`).

Cold start (fewer than 10 samples, or a fit whose ITL(K_SAT) is not positive): the analyzer sizes in KV tokens as
upstream's e2e scenario does: one replica holds KVmax * kvCacheThreshold, demand is kv * KVmax / K_SAT per pod
(KV max 8, threshold 0.8: capacity 6.4; at kv 0.9 demand 0.9*8/0.85 > 6.4, so the target rises above min).

Differences, said here and in docs/compatibility.md: wva-ray has no prefix-cache hit rate, so hit = 0 (KVreq is an
upper bound; supply a lower bound); lambda is the pod's `arrival_rate` (the collector's rate of requests), else
completions over the pod's window, where upstream reads the EPP's scheduler attempts per namespace.
The samples live in the carried capacity history under `modelID|accelerator|itl-fit`, flattened
[k0, itl0, k1, itl1, ...] (V2 never reads that bucket).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wva_ray.core.analyzers.base import (
    AnalyzerSettings,
    CapacityView,
    GroupState,
    ModelGroup,
    PodRows,
    Sizing,
    cost_per_capacity,
)
from wva_ray.core.analyzers.v2 import CapacityHistoryKey, allocate_capacity
from wva_ray.core.variants import PodSignal, Variant

K_SAT = 0.85
MIN_SAMPLES = 10
MAX_SAMPLES = 20
FIT_BUCKET = "itl-fit"


@dataclass(frozen=True, slots=True)
class ItlFit:
    a: float  # seconds per token per unit of KV utilisation
    b: float  # seconds per token at zero utilisation
    samples: int

    def itl(self, k: float) -> float:
        return self.a * k + self.b


def fit_itl(samples: Sequence[tuple[float, float]]) -> ItlFit | None:
    """OLS of ITL on k over the samples; None below MIN_SAMPLES. Equal k everywhere: a flat line at the mean."""
    if len(samples) < MIN_SAMPLES:
        return None
    ks = [k for k, _ in samples]
    ys = [y for _, y in samples]
    mk, my = statistics.fmean(ks), statistics.fmean(ys)
    sxx = sum((k - mk) ** 2 for k in ks)
    if sxx <= 0:
        return ItlFit(0.0, my, len(samples))
    a = sum((k - mk) * (y - my) for k, y in zip(ks, ys, strict=True)) / sxx
    return ItlFit(a, my - a * mk, len(samples))


def fit_key(model_id: str, accelerator: str) -> str:
    return CapacityHistoryKey(model_id, accelerator, FIT_BUCKET).text


def unpack(flat: Sequence[float]) -> list[tuple[float, float]]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2)]


def pod_sample(rows: PodRows, namespace: str, p: PodSignal) -> tuple[float, float] | None:
    """(k, mean ITL in seconds) of one pod's window, when it has inter-token latencies."""
    m = rows.metrics(namespace, p.pod)
    if m is None or not m.itl_count or m.itl_seconds_sum is None or m.itl_count <= 0:
        return None
    itl = m.itl_seconds_sum / m.itl_count
    k = m.kv_usage_mean if m.kv_usage_mean is not None else p.kv
    return (min(max(k, 0.0), 1.0), itl) if itl > 0 else None


def pod_rate(rows: PodRows, namespace: str, p: PodSignal) -> float | None:
    """The pod's arrival rate (req/s): the collector's, else completions over the window; None if neither."""
    if p.arrival_rate is not None:
        return max(p.arrival_rate, 0.0)
    m = rows.metrics(namespace, p.pod)
    if m is not None and m.completions is not None and m.window_seconds:
        return max(m.completions, 0.0) / m.window_seconds
    return None


def _kv_max(v: Variant) -> float:
    sizes = [p.total_kv_tokens for p in v.signals if p.total_kv_tokens > 0]
    return float(statistics.median(sizes)) if sizes else 0.0


@dataclass(frozen=True, slots=True)
class ThroughputView:
    unit: str
    demand: float
    per_replica: dict[str, float]
    steps: list[str]


def _throughput_view(group: ModelGroup, fits: Mapping[str, ItlFit | None], kv_threshold: float) -> ThroughputView:
    """Demand and per-replica supply, in output tokens/s when every variant's accelerator has a fit, otherwise in
    KV tokens (cold start); one unit for the whole group so the two are never added."""
    steps: list[str] = []
    warm = all(fits.get(v.accelerator) is not None for v in group.variants)
    caps: dict[str, float] = {}
    demand = 0.0
    for v in group.variants:
        kv_max = _kv_max(v)
        fit = fits.get(v.accelerator)
        if warm and fit is not None:
            itl_sat = fit.itl(K_SAT)
            ins = [p.avg_in for p in v.signals if p.avg_in > 0]
            outs = [p.avg_out for p in v.signals if p.avg_out > 0]
            kv_req = (statistics.fmean(ins) if ins else 0.0) + (statistics.fmean(outs) if outs else 0.0) / 2
            caps[v.key] = (K_SAT * kv_max / kv_req) / itl_sat if kv_req > 0 and kv_max > 0 else 0.0
            for p in v.signals:
                rate = pod_rate(group.rows, group.namespace, p) or 0.0
                demand += rate * p.avg_out + p.queue / (2 * itl_sat)
            steps.append(
                f"throughput {v.name}: ITL(k) = {fit.a:.4g}*k + {fit.b:.4g} s ({fit.samples} samples), "
                f"KVreq {kv_req:.0f}, {caps[v.key]:.1f} tokens/s per replica"
            )
        else:
            caps[v.key] = kv_max * kv_threshold
            demand += sum(p.kv * p.total_kv_tokens / K_SAT for p in v.signals if p.total_kv_tokens > 0)
    if not warm:
        steps.append(f"throughput: fewer than {MIN_SAMPLES} ITL samples on some accelerator; sizing in KV tokens")
    return ThroughputView("tokens/s" if warm else "kv-tokens", demand, caps, steps)


@dataclass(frozen=True, slots=True)
class ThroughputAnalyzer:
    """The registry's entry for the throughput analyzer (`analyzers: [{name: throughput}]`)."""

    label: str = "throughput"

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        s = settings.saturation
        updates: dict[str, list[float]] = {}
        fits: dict[str, ItlFit | None] = {}
        for acc in sorted({v.accelerator for v in group.variants}):
            key = fit_key(group.model_id, acc)
            samples = unpack(state.capacity_history.get(key, []))
            fresh = [
                x
                for v in group.variants
                if v.accelerator == acc
                for x in (pod_sample(group.rows, group.namespace, p) for p in v.signals)
                if x is not None
            ]
            if fresh:
                samples = (samples + fresh)[-MAX_SAMPLES:]
                updates[key] = [c for pair in samples for c in pair]
            fit = fit_itl(samples)
            fits[acc] = fit if fit is not None and fit.itl(K_SAT) > 0 else None
        view = _throughput_view(group, fits, s.kv_cache_threshold)
        variants = group.variants
        supply = sum(v.ready * view.per_replica[v.key] for v in variants)
        anticipated = sum((v.ready + v.pending) * view.per_replica[v.key] for v in variants)
        required = max(0.0, view.demand / s.scale_up_threshold - anticipated)
        spare = max(0.0, supply - view.demand / s.scale_down_boundary)
        steps = [
            *view.steps,
            f"throughput: demand {view.demand:.1f} {view.unit}, supply {supply:.1f}, anticipated {anticipated:.1f}; "
            f"required {required:.1f}, spare {spare:.1f}",
        ]
        targets, reasons, moves = allocate_capacity(variants, view.per_replica, required, spare, view.unit)
        cpc = cost_per_capacity(variants, view.per_replica)
        capacity = CapacityView(view.unit, required, spare, view.per_replica)
        return Sizing(targets, reasons, (*steps, *moves), cpc, history=updates, capacity=capacity)
