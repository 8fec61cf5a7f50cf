"""What analyzer `learned` carries from one cycle to the next, per model group. Pure, no I/O.

A frozen value stored as `plan.state.learned["namespace/modelID"]` (`to_dict` / `from_dict`), so it survives a
restart through the runtime's existing state persistence; `wva-ray plan` prints it with the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wva_ray.core.analyzers.learned.demand import DemandState
from wva_ray.core.analyzers.learned.perf import PerfLearnerState
from wva_ray.core.analyzers.learned.sizing import DownState
from wva_ray.core.analyzers.learned.startup import StartupState


@dataclass(frozen=True, slots=True)
class VariantLearned:
    model_id: str
    accelerator: str
    perf: PerfLearnerState
    startup: StartupState

    def to_dict(self) -> dict[str, Any]:
        return {
            "modelID": self.model_id,
            "accelerator": self.accelerator,
            "perf": self.perf.to_dict(),
            "startup": self.startup.to_dict(),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> VariantLearned:
        try:
            return VariantLearned(
                str(data["modelID"]),
                str(data["accelerator"]),
                PerfLearnerState.from_dict(data["perf"]),
                StartupState.from_dict(data["startup"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"variant state: missing or invalid key ({err})") from err


@dataclass(frozen=True, slots=True)
class TokenStats:
    """Mean prompt and output tokens per request of one model (exponentially weighted over windows)."""

    input_mean: float | None = None
    output_mean: float | None = None
    requests: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"inputMean": self.input_mean, "outputMean": self.output_mean, "requests": self.requests}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> TokenStats:
        try:
            i, o = data.get("inputMean"), data.get("outputMean")
            return TokenStats(
                None if i is None else float(i), None if o is None else float(o), float(data.get("requests", 0.0))
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"token state: invalid value ({err})") from err


def update_tokens(t: TokenStats, prompt: float, generated: float, completions: float, memory: float) -> TokenStats:
    """Fold one window's token counters in (weighted by its completions, bounded memory of `memory` requests)."""
    if completions <= 0 or prompt < 0 or generated < 0:
        return t
    i, o = prompt / completions, generated / completions
    w_old = min(t.requests, memory)
    if t.input_mean is None or t.output_mean is None or w_old <= 0:
        return TokenStats(i, o, completions)
    w = w_old + completions
    return TokenStats((w_old * t.input_mean + completions * i) / w, (w_old * t.output_mean + completions * o) / w, w)


@dataclass(frozen=True, slots=True)
class EngineState:
    demand: DemandState = field(default_factory=DemandState)
    down: DownState = field(default_factory=DownState)
    tokens: TokenStats = field(default_factory=TokenStats)
    variants: Mapping[str, VariantLearned] = field(default_factory=dict)  # by VA name
    first_seen_s: float | None = None  # when this group was first analysed (bounds the warm-up hold)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "demand": self.demand.to_dict(),
            "down": self.down.to_dict(),
            "tokens": self.tokens.to_dict(),
            "variants": {k: v.to_dict() for k, v in sorted(self.variants.items())},
        }
        if self.first_seen_s is not None:
            out["firstSeenS"] = self.first_seen_s
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> EngineState:
        """Inverse of `to_dict`; ValueError names what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"learned state: expected a mapping, got {type(data).__name__}")
        try:
            variants = {str(k): VariantLearned.from_dict(v) for k, v in dict(data.get("variants", {})).items()}
        except (TypeError, AttributeError) as err:
            raise ValueError(f"learned state: variants: {err}") from err
        seen = data.get("firstSeenS")
        try:
            first_seen = None if seen is None else float(seen)
        except (TypeError, ValueError) as err:
            raise ValueError(f"learned state: firstSeenS: {err}") from err
        return EngineState(
            DemandState.from_dict(data.get("demand", {})),
            DownState.from_dict(data.get("down", {})),
            TokenStats.from_dict(data.get("tokens", {})),
            variants,
            first_seen,
        )
