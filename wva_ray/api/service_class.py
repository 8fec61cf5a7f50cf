"""Service classes: latency targets (TTFT, ITL/TPOT) per model, and how a VariantAutoscaling picks one. No I/O.

Upstream's ConfigMap `service-classes-config` is kept as is: every data key (e.g. `premium.yaml`) holds one class as a
YAML string (or an already parsed object)::

    name: Premium
    priority: 1
    data:
      - model: default/default
        slo-tpot: 24        # ms per output token (= ITL)
        slo-ttft: 500       # ms to first token

Ours:
- a VA picks its class with the label (or, failing that, the annotation) `wva.llmd.ai/service-class: <name>`;
- a VA without one gets the default class: the class named by the optional data key `default-class` (a plain class
  name), else the built-in `BUILTIN_DEFAULT_CLASS` (standard SLO: ITL 50 ms, TTFT 1 s; priority 100, the lowest);
- within a class the entry whose `model` equals the VA's modelID wins, else the class-wide entry (`model` one of
  `default/default`, `default`, `*`); a class with neither for a model falls back to the default class.

Invalid entries are skipped and reported with the key path and the value (`parse_service_classes` returns the
warnings); `parse_service_class` raises ValueError with the same message for callers that want to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wva_ray.api.config import describe_validation_error, load_entry_value

SERVICE_CLASS_LABEL = "wva.llmd.ai/service-class"
DEFAULT_CLASS_KEY = "default-class"
WILDCARD_MODELS = ("default/default", "default", "*")


class ServiceClassTarget(BaseModel):
    """One `data` row: the targets of one model in a class (milliseconds)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    model: Annotated[str, Field(min_length=1)]
    slo_tpot_ms: Annotated[float, Field(gt=0, alias="slo-tpot")]
    slo_ttft_ms: Annotated[float, Field(gt=0, alias="slo-ttft")]


class ServiceClass(BaseModel):
    """One class: name, priority (lower = more important, upstream 1 high ... 100 low) and per-model targets."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    name: Annotated[str, Field(min_length=1)]
    priority: Annotated[int, Field(ge=0, le=1000)] = 100
    data: tuple[ServiceClassTarget, ...] = ()

    @model_validator(mode="after")
    def _unique_models(self) -> ServiceClass:
        seen: set[str] = set()
        for i, row in enumerate(self.data):
            if row.model in seen:
                raise ValueError(f"data.{i}.model: duplicate model {row.model!r} in class {self.name!r}")
            seen.add(row.model)
        return self

    def target_for(self, model_id: str) -> ServiceClassTarget | None:
        """The row for `model_id`, else the class-wide row, else None."""
        exact = next((r for r in self.data if r.model == model_id), None)
        if exact is not None:
            return exact
        return next((r for r in self.data if r.model in WILDCARD_MODELS), None)

    def unknown_keys(self) -> list[str]:
        keys = [f"{k}" for k in (self.model_extra or {})]
        for i, row in enumerate(self.data):
            keys.extend(f"data.{i}.{k}" for k in (row.model_extra or {}))
        return sorted(keys)


BUILTIN_DEFAULT_CLASS = ServiceClass(
    name="Default",
    priority=100,
    data=(ServiceClassTarget(model="default/default", slo_tpot_ms=50.0, slo_ttft_ms=1000.0),),
)


@dataclass(frozen=True, slots=True)
class ServiceClasses:
    """All classes of the ConfigMap plus the default one (always present)."""

    classes: Mapping[str, ServiceClass]
    default_class: ServiceClass = BUILTIN_DEFAULT_CLASS

    def get(self, name: str) -> ServiceClass | None:
        return self.default_class if name == self.default_class.name else self.classes.get(name)


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """The targets one VA is sized for, and where they came from (for the decision's explanation)."""

    class_name: str
    priority: int
    itl_ms: float
    ttft_ms: float
    source: str


def parse_service_class(key: str, value: Any) -> ServiceClass:
    """One data entry as a class; ValueError names `key`, the path inside it and the value."""
    try:
        raw = load_entry_value(value)
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from err
    try:
        return ServiceClass.model_validate(raw)
    except ValidationError as err:
        raise ValueError(describe_validation_error(err, key)) from err


def parse_service_classes(data: Mapping[str, Any]) -> tuple[ServiceClasses, tuple[str, ...]]:
    """The whole ConfigMap. Invalid or duplicate entries are skipped; the warnings name the key path and value."""
    warnings: list[str] = []
    classes: dict[str, ServiceClass] = {}
    default_name: str | None = None
    for key in sorted(data):
        value = data[key]
        if key == DEFAULT_CLASS_KEY:
            if isinstance(value, str) and value.strip():
                default_name = value.strip()
            else:
                warnings.append(f"{key}: expected a class name, got {value!r}")
            continue
        try:
            cls = parse_service_class(key, value)
        except ValueError as err:
            warnings.append(f"{err}; entry ignored")
            continue
        warnings.extend(f"{key}.{k}: unknown key ignored" for k in cls.unknown_keys())
        if cls.name in classes:
            warnings.append(f"{key}.name: duplicate class {cls.name!r}; entry ignored")
            continue
        classes[cls.name] = cls
    default = BUILTIN_DEFAULT_CLASS
    if default_name is not None:
        if default_name in classes:
            default = classes[default_name]
        else:
            warnings.append(f"{DEFAULT_CLASS_KEY}: unknown class {default_name!r}; using {default.name!r}")
    return ServiceClasses(classes=classes, default_class=default), tuple(warnings)


def class_name_for(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str | None:
    """The class a VA asks for: its label, else its annotation, else None (the default class)."""
    for source in (labels, annotations):
        name = source.get(SERVICE_CLASS_LABEL, "").strip()
        if name:
            return name
    return None


def resolve_target(classes: ServiceClasses, requested: str | None, model_id: str) -> tuple[ResolvedTarget, str]:
    """The targets for a VA of `model_id` that asks for class `requested` (None = default).

    Returns the targets and a warning ("" if none): an unknown class, or a class with no row for the model, falls
    back to the default class; a default class with no row for the model falls back to the built-in one.
    """
    warning = ""
    chosen = classes.default_class if requested is None else classes.get(requested)
    if chosen is None:
        warning = f"{SERVICE_CLASS_LABEL}: unknown class {requested!r}; using {classes.default_class.name!r}"
        chosen = classes.default_class
    row = chosen.target_for(model_id)
    if row is None and chosen is not classes.default_class:
        warning = f"class {chosen.name!r} has no entry for model {model_id!r}; using {classes.default_class.name!r}"
        chosen = classes.default_class
        row = chosen.target_for(model_id)
    if row is None:
        chosen = BUILTIN_DEFAULT_CLASS
        row = BUILTIN_DEFAULT_CLASS.data[0]
    source = f"class {chosen.name} (priority {chosen.priority}), entry {row.model!r}"
    target = ResolvedTarget(
        class_name=chosen.name,
        priority=chosen.priority,
        itl_ms=row.slo_tpot_ms,
        ttft_ms=row.slo_ttft_ms,
        source=source,
    )
    return target, warning


class PerfProfileEntry(BaseModel):
    """Ours: one entry of the optional ConfigMap `wva-slo-profiles` (one YAML blob per data key): the performance
    parameters of one (model, accelerator) pair for analyzer `slo`, overriding the built-in table."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    model_id: Annotated[str, Field(min_length=1, alias="modelID")]
    accelerator: Annotated[str, Field(min_length=1)]
    alpha_ms: Annotated[float, Field(gt=0, alias="alphaMs")]
    beta_ms: Annotated[float, Field(ge=0, alias="betaMs")]
    gamma_ms_per_1k_kv: Annotated[float, Field(ge=0, alias="gammaMsPer1kKv")]
    prefill_tokens_per_s: Annotated[float, Field(gt=0, alias="prefillTokensPerS")]
    max_num_seqs: Annotated[int, Field(ge=1, alias="maxNumSeqs")] = 256
    kv_capacity_tokens: Annotated[float, Field(gt=0, alias="kvCapacityTokens")] = 400_000.0
    max_num_batched_tokens: Annotated[int, Field(ge=1, alias="maxNumBatchedTokens")] = 8192
    startup_s: Annotated[float, Field(ge=0, alias="startupSeconds")] = 180.0


def parse_perf_profiles(data: Mapping[str, Any]) -> tuple[tuple[PerfProfileEntry, ...], tuple[str, ...]]:
    """All entries of `wva-slo-profiles`; invalid ones are skipped with a warning naming the key path and value."""
    out: list[PerfProfileEntry] = []
    warnings: list[str] = []
    for key in sorted(data):
        try:
            raw = load_entry_value(data[key])
            out.append(PerfProfileEntry.model_validate(raw))
        except ValidationError as err:
            warnings.append(f"{describe_validation_error(err, key)}; entry ignored")
        except ValueError as err:
            warnings.append(f"{key}: {err}; entry ignored")
    return tuple(out), tuple(warnings)
