"""ConfigMap entries: `wva-saturation-scaling-config` and `wva-model-scale-to-zero-config` (no I/O).

Each ConfigMap data key holds one entry, as a YAML string (as in a real ConfigMap) or an already parsed object.
Keys `default` are the global entries; others are overrides that carry `model_id` (and optionally `namespace`).
Every field is optional here: an absent field means "not set by this entry", and the field-by-field merge in
`wva_ray.core.config` fills it from the less specific entries and finally from `BUILTIN_SATURATION`.

Unknown keys do not invalidate an entry (upstream ignores them too, and a newer upstream may add keys); they are
reported as warnings naming the key path, so a typo is visible in `wva-ray plan` and in the controller log.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wva_ray.api.v09_config import AnalyzerSpec, LimiterSpec, ScaleToZeroInline

AnalyzerName = Literal["", "saturation", "slo", "learned", "throughput"]
LimiterFailureMode = Literal["open", "closed"]

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration_s(text: str) -> float:
    """Parse a Go duration (`10m`, `1h30m`, `90s`, `1.5h`) into seconds. Raises ValueError naming the text."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for match in _DURATION_RE.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNIT_S[match.group(2)]
        pos = match.end()
    if pos != len(s):
        raise ValueError(f"invalid duration {text!r}: expected a Go duration such as '10m' or '1h30m'")
    return total


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    def unknown_keys(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())


class SaturationEntry(_Entry):
    """One entry of the saturation ConfigMap. Field names are upstream's (camelCase) plus ours."""

    model_id: str | None = None
    namespace: str | None = None
    kv_cache_threshold: float | None = Field(default=None, alias="kvCacheThreshold")
    queue_length_threshold: float | None = Field(default=None, alias="queueLengthThreshold")
    kv_spare_trigger: float | None = Field(default=None, alias="kvSpareTrigger")
    queue_spare_trigger: float | None = Field(default=None, alias="queueSpareTrigger")
    enable_limiter: bool | None = Field(default=None, alias="enableLimiter")
    analyzer_name: AnalyzerName | None = Field(default=None, alias="analyzerName")
    scale_up_threshold: float | None = Field(default=None, alias="scaleUpThreshold")
    scale_down_boundary: float | None = Field(default=None, alias="scaleDownBoundary")
    # ours
    transition_timeout_seconds: float | None = Field(default=None, alias="transitionTimeoutSeconds")
    gpu_budget: dict[str, int] | None = Field(default=None, alias="gpuBudget")
    power_budget_watts: float | None = Field(default=None, alias="powerBudgetWatts")
    accelerator_watts: dict[str, float] | None = Field(default=None, alias="acceleratorWatts")
    limiter_failure_mode: LimiterFailureMode | None = Field(default=None, alias="limiterFailureMode")
    monotone_spare: bool | None = Field(default=None, alias="monotoneSpare")
    # upstream v0.9 (api/v09_config.py; resolved by core/v09_config.py)
    analyzers: list[AnalyzerSpec] | None = None
    priority: int | None = Field(default=None, ge=0)
    enable_rescale: bool | None = Field(default=None, alias="enableRescale")
    scale_to_zero: ScaleToZeroInline | None = Field(default=None, alias="scaleToZero")
    limiters: list[LimiterSpec] | None = None


class ScaleToZeroEntry(_Entry):
    """One entry of the scale-to-zero ConfigMap (upstream snake_case keys)."""

    model_id: str | None = None
    namespace: str | None = None
    enable_scale_to_zero: bool | None = None
    retention_period: str | None = None


SATURATION_FIELDS: tuple[str, ...] = tuple(
    name for name in SaturationEntry.model_fields if name not in ("model_id", "namespace")
)


class SaturationSettings(BaseModel):
    """A fully merged saturation configuration for one model group: every field has a value."""

    model_config = ConfigDict(frozen=True)

    kv_cache_threshold: float = 0.80
    queue_length_threshold: float = 5.0
    kv_spare_trigger: float = 0.10
    queue_spare_trigger: float = 3.0
    enable_limiter: bool = False
    analyzer_name: AnalyzerName = ""
    scale_up_threshold: float = 0.85
    scale_down_boundary: float = 0.70
    transition_timeout_seconds: float = 600.0
    gpu_budget: dict[str, int] = Field(default_factory=dict)
    power_budget_watts: float | None = None
    accelerator_watts: dict[str, float] = Field(default_factory=lambda: {"H100": 700.0, "A100": 400.0, "L40S": 350.0})
    limiter_failure_mode: LimiterFailureMode = "open"
    # ours, V1: saturated pods count with zero spare (instead of being left out of the averages) and any saturated
    # pod makes scale-down unsafe. Off by default to keep upstream's formula; see docs/adr/0002.
    monotone_spare: bool = False
    # upstream v0.9
    analyzers: tuple[AnalyzerSpec, ...] = ()
    priority: int = 1
    enable_rescale: bool = False
    scale_to_zero: ScaleToZeroInline | None = None
    limiters: tuple[LimiterSpec, ...] = ()


BUILTIN_SATURATION = SaturationSettings()
DEFAULT_RETENTION_S = 600.0


def load_entry_value(value: Any) -> dict[str, Any]:
    """A ConfigMap value (YAML string or object) as a dict. Raises ValueError on YAML that is not a mapping."""
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ValueError(f"not valid YAML: {str(err).splitlines()[0]}") from err
        if parsed is None:
            return {}
        value = parsed
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def describe_validation_error(err: ValidationError, prefix: str) -> str:
    """One line naming the key path (`prefix` and the error's location; an empty prefix names only the location),
    the expectation and the value, for the first error of `err`."""
    first = err.errors()[0]
    detail = f"{first['msg']} (got {first.get('input')!r})"
    path = ".".join(p for p in [prefix, *(str(p) for p in first["loc"])] if p)
    return f"{path}: {detail}" if path else detail
