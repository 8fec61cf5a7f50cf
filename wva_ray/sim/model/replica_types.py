"""Values of the replica model (`wva_ray.sim.model.replica`): its fidelity switches, a finished request and the
state its `/metrics` would show. Pure data; `replica` re-exports all three.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReplicaOptions:
    """Switchable fidelity beyond the default model (every switch off = the model in `replica`'s docstring).

    `request_overhead_s` and `prefill_stall` are off by default and turned on by the calibration against a real
    engine (`wva-ray calibrate`); the bench and the acceptance outputs use the defaults.
    """

    preemption: bool = False  # KV full while decoding: the newest running request is preempted and recomputed
    prefix_hit_ratio: float = 0.0  # fraction of each prompt found in the prefix cache (not prefilled, shared KV)
    prefill_growth_per_1k: float = 0.0  # prefill time per token grows by this fraction per 1k prompt tokens
    prefill_slows_decode: bool = True  # the averaged chunked-prefill rule ITL_eff = d / (1 - rho)
    # Fixed per-request path outside the engine's steps (HTTP, tokenisation, hand-over to the engine core): a
    # request reaches the replica's queue this long after it was submitted, so it adds to TTFT and e2e.
    request_overhead_s: float = 0.0
    # Per-step chunked prefill instead of the averaged rule: a step that carries c prefill tokens lasts
    # d + c / prefill_tokens_per_s, c = min(max_num_batched_tokens - decoding, prefill tokens pending), and the
    # step that ends a prompt's prefill emits its first token (replaces `prefill_slows_decode`).
    prefill_stall: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.prefix_hit_ratio < 1.0:
            raise ValueError(f"prefix_hit_ratio must be in [0, 1), got {self.prefix_hit_ratio}")
        if self.prefill_growth_per_1k < 0:
            raise ValueError(f"prefill_growth_per_1k must be >= 0, got {self.prefill_growth_per_1k}")
        if not self.request_overhead_s >= 0.0:
            raise ValueError(f"request_overhead_s must be >= 0, got {self.request_overhead_s}")


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished request with its latencies (seconds)."""

    request_id: Hashable
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    queue_s: float
    ttft_s: float
    itl_s: float
    e2e_s: float
    finish_s: float


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """What a vLLM replica's /metrics would show at `now_s` (gauges and cumulative counters)."""

    now_s: float
    running: int
    waiting: int
    prefilling: int
    kv_used_tokens: float
    kv_capacity_tokens: int
    kv_usage_ratio: float
    prompt_tokens_total: int
    generation_tokens_total: float
    success_total: int
    submitted_total: int
