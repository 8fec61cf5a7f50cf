"""Serving profiles (model x accelerator) loaded as data.

Owns the `Profile` value (how fast one vLLM replica serves on one accelerator type) and the loader for
the bundled `profiles.yaml` plus any user files of the same shape. Does file I/O only in `load_profiles`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

BUNDLED_PROFILES = Path(__file__).with_name("profiles.yaml")


class Profile(BaseModel):
    """One replica of `model` on `gpus` GPUs of type `accelerator` (numbers from ../shared/data/profiles)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    model: str = Field(min_length=1)
    accelerator: str = Field(min_length=1)
    gpus: int = Field(ge=1)
    alpha_ms: float = Field(gt=0)
    beta_ms: float = Field(ge=0)
    gamma_ms_per_1k_kv: float = Field(ge=0)
    prefill_tokens_per_s: float = Field(gt=0)
    kv_capacity_tokens: int = Field(gt=0)
    max_num_seqs: int = Field(ge=1)
    max_num_batched_tokens: int = Field(default=8192, ge=1)
    block_size: int = Field(default=16, ge=1)
    startup_s: float = Field(ge=0)
    startup_range_s: tuple[float, float] | None = None
    power_w: float = Field(default=0.0, ge=0)
    relative_cost: float = Field(gt=0)

    @model_validator(mode="after")
    def _check_range(self) -> Profile:
        if self.startup_range_s is not None and self.startup_range_s[0] > self.startup_range_s[1]:
            raise ValueError(f"profile {self.id!r}: startup_range_s {self.startup_range_s} has min > max")
        return self

    @property
    def num_gpu_blocks(self) -> int:
        """KV capacity in blocks, as vLLM's `cache_config_info{num_gpu_blocks}` reports it."""
        return self.kv_capacity_tokens // self.block_size

    @property
    def cost_per_replica_hour(self) -> float:
        """Relative cost of one replica for one hour (per-GPU cost x GPUs)."""
        return self.relative_cost * self.gpus

    def itl_s(self, decoding: int, kv_tokens: float) -> float:
        """One decode step (= inter-token latency) in seconds for a batch of `decoding` sequences."""
        step_ms = self.alpha_ms + self.beta_ms * decoding + self.gamma_ms_per_1k_kv * kv_tokens / 1000.0
        return step_ms / 1000.0

    def step_s(self, decoding: int, kv_tokens: float, prefill_tokens: float) -> float:
        """One engine step that decodes `decoding` sequences and prefills `prefill_tokens` prompt tokens (vLLM's
        chunked prefill: one token budget per step, decodes first, then prompt chunks)."""
        return self.itl_s(decoding, kv_tokens) + prefill_tokens / self.prefill_tokens_per_s


class ProfileFile(BaseModel):
    """Shape of a profiles YAML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profiles: list[Profile]


def parse_profiles(data: object, source: str) -> list[Profile]:
    """Validate already-parsed YAML/JSON data; `source` names the file in errors."""
    try:
        return ProfileFile.model_validate(data).profiles
    except ValueError as exc:
        raise ValueError(f"invalid profiles in {source}: {exc}") from exc


def load_profiles(extra: Iterable[Path] = (), bundled: bool = True) -> Mapping[str, Profile]:
    """Load the bundled profiles, then each `extra` file; a later file overrides an earlier id."""
    paths = ([BUNDLED_PROFILES] if bundled else []) + list(extra)
    out: dict[str, Profile] = {}
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for prof in parse_profiles(yaml.safe_load(fh), str(path)):
                out[prof.id] = prof
    return out


def get_profile(profile_id: str, extra: Iterable[Path] = ()) -> Profile:
    """One profile by id (e.g. `llama-3.1-8b/H100`); the error lists the known ids."""
    profiles = load_profiles(extra)
    if profile_id not in profiles:
        raise KeyError(f"unknown profile {profile_id!r}; known: {sorted(profiles)}")
    return profiles[profile_id]
