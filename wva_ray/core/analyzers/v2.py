"""Analyzer V2 (`analyzerName: saturation`): token capacity per replica and the cost-aware optimizer
(wva-behaviour.md 3.3). Pure; the rolling k2 history is passed in and returned, never kept here.
"""

from __future__ import annotations

import math
import statistics
from collections import ChainMap
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from wva_ray.api.config import SaturationSettings
from wva_ray.core.analyzers.base import (
    AnalyzerSettings,
    CapacityView,
    GroupState,
    ModelGroup,
    Sizing,
    cost_per_capacity,
)
from wva_ray.core.rules import cheapest, most_expensive_first
from wva_ray.core.variants import PodSignal, Variant

HISTORY_WINDOW = 10
DEFAULT_MAX_BATCHED_TOKENS = 8192
DEFAULT_MAX_NUM_SEQS = 256


@dataclass(frozen=True, slots=True)
class CapacityHistoryKey:
    """Key of the rolling k2 history: one per (modelID, accelerator, output-length bucket), shared by every
    namespace serving the model (wva-behaviour 3.3). Text form `modelID|accelerator|bucket`."""

    model_id: str
    accelerator: str
    bucket: str

    @property
    def text(self) -> str:
        return f"{self.model_id}|{self.accelerator}|{self.bucket}"

    @classmethod
    def parse(cls, text: str) -> CapacityHistoryKey:
        parts = text.rsplit("|", 2)
        if len(parts) != 3:
            raise ValueError(f"capacity history key {text!r}: expected 'modelID|accelerator|bucket'")
        return cls(*parts)

    @staticmethod
    def model_of(text: str) -> str:
        """The modelID of a history key; a key not in the `modelID|accelerator|bucket` form counts whole."""
        parts = text.rsplit("|", 2)
        return parts[0] if len(parts) == 3 else text


def output_bucket(avg_out: float) -> str:
    if avg_out < 100:
        return "short"
    if avg_out < 500:
        return "medium"
    return "long"


def vllm_arg(args: Sequence[str], name: str) -> str | None:
    """The value of `--name` in a vLLM argument list (`--name V` or `--name=V`; `-`/`_` spellings alike)."""
    wanted = name.replace("_", "-")
    tokens = [t for a in args for t in (a.split() if " " in a else [a])]
    for i, tok in enumerate(tokens):
        flag, eq, value = tok.partition("=")
        if flag.replace("_", "-") != wanted:
            continue
        if eq:
            return value
        if i + 1 < len(tokens):
            return tokens[i + 1]
    return None


def int_vllm_arg(args: Sequence[str], name: str, default: int) -> int:
    """A positive integer vLLM argument (`--name N` or `--name=N`), else `default` (absent, malformed or <= 0)."""
    raw = vllm_arg(args, name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def derived_k2(args: Sequence[str], avg_in: float, avg_out: float) -> int | None:
    """k2 from the target's vLLM args: floor(min(B*O/(I+O), S) * (I + O/2)); None without a token mix."""
    if avg_in + avg_out <= 0:
        return None
    b = int_vllm_arg(args, "--max-num-batched-tokens", DEFAULT_MAX_BATCHED_TOKENS)
    s = int_vllm_arg(args, "--max-num-seqs", DEFAULT_MAX_NUM_SEQS)
    steady = min(b * avg_out / (avg_in + avg_out), float(s))
    return math.floor(steady * (avg_in + avg_out / 2))


@dataclass(frozen=True, slots=True)
class ReplicaCapacity:
    capacity: float
    demand: float
    source: str


def replica_capacity(
    p: PodSignal,
    v: Variant,
    s: SaturationSettings,
    history: MutableMapping[str, list[float]],
) -> ReplicaCapacity | None:
    """min(k1, k2) for one replica with known KV geometry; may push an observed k2 into `history`."""
    total = p.total_kv_tokens
    if total <= 0:
        return None
    in_use = min(max(round(p.kv * total), 0), total)
    demand = in_use + (p.queue * p.avg_in if p.avg_in > 0 else 0.0)
    k1 = math.floor(total * s.kv_cache_threshold)
    key = CapacityHistoryKey(v.model_id, v.accelerator, output_bucket(p.avg_out)).text
    if p.queue >= int(s.queue_length_threshold) and in_use > 0:
        k2: float = in_use
        source = "observed"
        history[key] = [*history.get(key, []), float(in_use)][-HISTORY_WINDOW:]
    elif history.get(key):
        k2 = statistics.fmean(history[key])
        source = "history"
    else:
        d = derived_k2(v.vllm_args, p.avg_in, p.avg_out)
        k2, source = (float(d), "vllm-args") if d is not None else (float(k1), "kv-threshold")
    return ReplicaCapacity(min(float(k1), k2), demand, source)


@dataclass(frozen=True, slots=True)
class V2Result:
    targets: dict[str, int]
    reasons: dict[str, str]
    steps: list[str]
    capacity: dict[str, float]  # per-replica capacity per variant key (0 = unknown)
    history: dict[str, list[float]]  # only the keys this call changed (merge them into the carried history)
    required_tokens: float = 0.0  # upstream's RC
    spare_tokens: float = 0.0  # upstream's SC


def _variant_capacity(v: Variant, caps: list[ReplicaCapacity], model_in: float, model_out: float) -> float:
    if caps:
        return float(statistics.median(c.capacity for c in caps))
    derived = derived_k2(v.vllm_args, model_in, model_out)
    if derived is not None:
        return float(derived)
    return float(int_vllm_arg(v.vllm_args, "--max-num-batched-tokens", DEFAULT_MAX_BATCHED_TOKENS))


def allocate_capacity(
    variants: Sequence[Variant], caps: Mapping[str, float], required: float, spare: float, unit: str
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """The cost-aware optimizer over one capacity view (upstream's post-step, any analyzer): cover `required` on
    the best cost per capacity, give `spare` back most expensive first (the cheapest variant keeps one replica
    when nothing else does). Targets, reasons and steps per variant key; `unit` names the capacity in reasons."""
    steps: list[str] = []
    targets = {v.key: v.current for v in variants}
    reasons = {v.key: "steady: capacity matches demand" for v in variants}
    if required > 0:
        remaining = required
        for v in sorted(variants, key=lambda v: (v.cost / caps[v.key] if caps[v.key] > 0 else math.inf, v.name)):
            cap = caps[v.key]
            if remaining <= 0 or cap <= 0:
                continue
            room = (v.max_replicas - targets[v.key]) if v.max_replicas is not None else None
            n = math.ceil(remaining / cap)
            if room is not None:
                n = max(0, min(n, room))
            if n == 0:
                continue
            targets[v.key] += n
            remaining -= n * cap
            reasons[v.key] = f"scale-up: {required:.0f} {unit} of capacity required; best cost per capacity"
            steps.append(f"+{n} on {v.name} (cost/capacity {v.cost / cap:.3g})")
        if remaining > 0:
            steps.append(f"{remaining:.0f} {unit} still uncovered: every candidate is at maxReplicas")
    elif spare > 0:
        remaining = spare
        keeper = cheapest(variants)
        for v in most_expensive_first(variants):
            cap = caps[v.key]
            if cap <= 0:
                continue
            others_keep = any(targets[o.key] > 0 for o in variants if o.key != v.key)
            floor_v = 1 if (keeper is not None and v.key == keeper.key and not others_keep) else 0
            floor_v = max(floor_v, v.min_replicas or 0)
            k = min(math.floor(remaining / cap), targets[v.key] - floor_v)
            if k > 0:
                targets[v.key] -= k
                remaining -= k * cap
                reasons[v.key] = f"scale-down: {spare:.0f} {unit} of spare capacity; most expensive first"
                steps.append(f"-{k} on {v.name}")
    return targets, reasons, steps


def decide_v2(variants: Sequence[Variant], s: SaturationSettings, history_in: Mapping[str, list[float]]) -> V2Result:
    """Targets for the decidable variants of one model group (no transition lock in V2)."""
    updates: dict[str, list[float]] = {}
    history: ChainMap[str, list[float]] = ChainMap(
        updates, dict(history_in) if not isinstance(history_in, dict) else history_in
    )
    steps: list[str] = []
    caps: dict[str, float] = {}
    demand = 0.0
    all_pods = [p for v in variants for p in v.signals]
    ins = [p.avg_in for p in all_pods if p.avg_in > 0]
    outs = [p.avg_out for p in all_pods if p.avg_out > 0]
    model_in = statistics.fmean(ins) if ins else 0.0
    model_out = statistics.fmean(outs) if outs else 0.0
    for v in variants:
        rc = [c for c in (replica_capacity(p, v, s, history) for p in v.signals) if c is not None]
        demand += sum(c.demand for c in rc)
        caps[v.key] = _variant_capacity(v, rc, model_in, model_out)
    supply = sum(v.ready * caps[v.key] for v in variants)
    anticipated = sum((v.ready + v.pending) * caps[v.key] for v in variants)
    required = max(0.0, demand / s.scale_up_threshold - anticipated)
    spare = max(0.0, supply - demand / s.scale_down_boundary)
    steps.append(
        f"V2: demand {demand:.0f} tokens, supply {supply:.0f}, anticipated {anticipated:.0f}; required "
        f"{required:.0f} (scaleUp {s.scale_up_threshold:g}), spare {spare:.0f} (scaleDown {s.scale_down_boundary:g})"
    )
    targets, reasons, moves = allocate_capacity(variants, caps, required, spare, "tokens")
    steps += moves
    return V2Result(targets, reasons, steps, caps, updates, required, spare)


@dataclass(frozen=True, slots=True)
class V2Analyzer:
    """The registry's entry for `analyzerName: saturation`."""

    label: str = "saturation"

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        r = decide_v2(group.variants, settings.saturation, state.capacity_history)
        cpc = cost_per_capacity(group.variants, r.capacity)
        view = CapacityView("tokens", r.required_tokens, r.spare_tokens, r.capacity)
        return Sizing(r.targets, r.reasons, tuple(r.steps), cpc, history=r.history, capacity=view)
