"""Performance parameters per (model, accelerator) for analyzer `slo`: a built-in table plus overrides. Pure.

The built-in rows are the default profile table of ../shared/data/profiles/README.md (H100 measured, A100/L40S
derived, +-25 %); the online estimator refines them. A model ID matches a row when, lower-cased and without
separators, it contains the row's key (`meta-llama/Llama-3.1-8B-Instruct` -> `llama318b`). Overrides come from
the optional ConfigMap `wva-slo-profiles` (`wva_ray.api.service_class.PerfProfileEntry`) and match the model ID
exactly (or `*`) and the accelerator; they win over the built-in rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from wva_ray.api.service_class import PerfProfileEntry
from wva_ray.core.analyzers.slo.perf_model import PerfParams

_SEP = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, slots=True)
class ProfileRow:
    model_key: str  # normalised substring of the model ID
    accelerator: str
    gpus: int
    params: PerfParams
    startup_s: float


BUILTIN_ROWS: tuple[ProfileRow, ...] = (
    ProfileRow("llama318b", "H100", 1, PerfParams(7.4, 0.015, 0.041, 35000, 1024, 400_000, 8192), 90.0),
    ProfileRow("llama318b", "A100", 1, PerfParams(11.5, 0.035, 0.067, 14600, 256, 400_000, 2048), 90.0),
    ProfileRow("llama318b", "L40S", 1, PerfParams(28.8, 0.040, 0.158, 13000, 256, 190_000, 2048), 90.0),
    ProfileRow("llama3170b", "H100", 4, PerfParams(19.4, 0.035, 0.022, 12000, 1024, 410_000, 8192), 180.0),
    ProfileRow("llama3170b", "A100", 4, PerfParams(30.0, 0.084, 0.036, 5000, 256, 410_000, 2048), 180.0),
)


def normalise_model(model_id: str) -> str:
    return _SEP.sub("", model_id.lower())


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    params: PerfParams
    startup_s: float
    source: str


def profile_for(model_id: str, accelerator: str, overrides: Sequence[PerfProfileEntry] = ()) -> ResolvedProfile | None:
    """The parameters for one variant, or None when neither an override nor a built-in row matches."""
    for exact in (True, False):
        for e in overrides:
            if e.accelerator != accelerator or (e.model_id != model_id if exact else e.model_id != "*"):
                continue
            params = PerfParams(
                e.alpha_ms,
                e.beta_ms,
                e.gamma_ms_per_1k_kv,
                e.prefill_tokens_per_s,
                e.max_num_seqs,
                e.kv_capacity_tokens,
                e.max_num_batched_tokens,
            )
            return ResolvedProfile(params, e.startup_s, f"wva-slo-profiles {e.model_id}/{e.accelerator}")
    key = normalise_model(model_id)
    for row in BUILTIN_ROWS:
        if row.accelerator == accelerator and row.model_key in key:
            return ResolvedProfile(row.params, row.startup_s, f"built-in {row.model_key}/{row.accelerator}")
    return None
