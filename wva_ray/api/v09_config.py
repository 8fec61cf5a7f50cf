"""WVA v0.9 keys of a `wva-saturation-scaling-config` entry (ScalingPolicy Phase 1): `analyzers`, `scaleToZero`,
`limiters`. Typed and validated here (each error names the key and the value); resolved by
`wva_ray.core.v09_config`. Pure data; no I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# analyzer types upstream v0.9 knows; `saturation` is V2 (token capacity), `throughput` is the ITL-fit analyzer
KNOWN_ANALYZERS = ("saturation", "throughput")
LimiterType = Literal["gpu-inventory", "inventory", "quota"]
QuotaScope = Literal["cluster", "namespace"]
UNLIMITED = -1


class _V09(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class AnalyzerSpec(_V09):
    """One `analyzers:` item: `{name|type, score, enabled, parameters}`; `type` falls back to `name`."""

    name: str | None = None
    type: str | None = None
    score: Annotated[float, Field(ge=0)] = 1.0
    enabled: bool | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _named(self) -> AnalyzerSpec:
        if not (self.type or self.name):
            raise ValueError("an analyzer needs `type` or `name`")
        return self

    @property
    def kind(self) -> str:
        return str(self.type or self.name)

    @property
    def live(self) -> bool:
        """Listed and not `enabled: false`."""
        return self.enabled is not False


class ScaleToZeroInline(_V09):
    """`scaleToZero: {enabled}`: overrides the scale-to-zero ConfigMap for this entry (unset inherits)."""

    enabled: bool | None = None


def _check_quota(value: int, where: str) -> int:
    if value < UNLIMITED:
        raise ValueError(f"{where}: {value} is not a GPU count (>= 0, or -1 for unlimited)")
    return value


class LimiterSpec(_V09):
    """One `limiters:` item: `gpu-inventory` (alias `inventory`) or `quota` with cluster or namespace scope.

    Quotas count GPUs per accelerator type; -1 means unlimited; 0 or a missing type means deny. `namespaceQuotas`
    takes the reserved key `default` (the fallback for other namespaces); `exclude` lists namespaces to skip.
    """

    type: LimiterType
    scope: QuotaScope = "cluster"
    quotas: dict[str, int] = Field(default_factory=dict)
    namespace_quotas: dict[str, dict[str, int]] = Field(default_factory=dict, alias="namespaceQuotas")
    exclude: list[str] = Field(default_factory=list)

    @field_validator("quotas")
    @classmethod
    def _quotas(cls, value: dict[str, int]) -> dict[str, int]:
        for acc, n in value.items():
            _check_quota(n, f"quotas.{acc}")
        return value

    @field_validator("namespace_quotas")
    @classmethod
    def _ns_quotas(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for ns, per_type in value.items():
            for acc, n in per_type.items():
                _check_quota(n, f"namespaceQuotas.{ns}.{acc}")
        return value

    @property
    def is_quota(self) -> bool:
        return self.type == "quota"
