"""Configuration resolution: merge the saturation and scale-to-zero ConfigMap entries for one model group. Pure.

Merge order, field by field (wva-behaviour.md 3.1): built-in < global `default` < namespace-local `default` <
global model override < namespace-local model override. An entry that fails validation, alone or merged onto the
entries before it, is skipped whole and reported; the rest still applies. (Before that, the controller replaces an
entry edited from valid to invalid alone by its last valid version: `core.last_valid`, which reuses `read_entry`,
`entry_fields` and `SETTINGS_RULES` from here.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from wva_ray.api.config import (
    BUILTIN_SATURATION,
    DEFAULT_RETENTION_S,
    SATURATION_FIELDS,
    SaturationEntry,
    SaturationSettings,
    ScaleToZeroEntry,
    describe_validation_error,
    load_entry_value,
    parse_duration_s,
)
from wva_ray.api.snapshot import SnapshotConfig
from wva_ray.core.v09_config import (
    entry_notes,
    entry_updates,
    folded_parameters,
    inline_scale_to_zero,
    override_key,
)

DEFAULT_KEY = "default"
E = TypeVar("E", SaturationEntry, ScaleToZeroEntry)


@dataclass(frozen=True, slots=True)
class ParsedEntry(Generic[E]):
    key: str
    entry: E


@dataclass(frozen=True, slots=True)
class ParsedConfigMap(Generic[E]):
    default: E | None
    overrides: tuple[ParsedEntry[E], ...]


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """Every ConfigMap of a snapshot, parsed once per cycle."""

    saturation: ParsedConfigMap[SaturationEntry]
    scale_to_zero: ParsedConfigMap[ScaleToZeroEntry]
    ns_saturation: Mapping[str, ParsedConfigMap[SaturationEntry]]
    ns_scale_to_zero: Mapping[str, ParsedConfigMap[ScaleToZeroEntry]]
    scale_to_zero_fallback: bool
    warnings: tuple[str, ...] = field(default=())


def _at(path: str, detail: str) -> str:
    return f"{path}: {detail}" if path else detail


def read_entry(cls: type[E], key: str, value: Any, path: str = "") -> E | str:
    """One ConfigMap entry as typed, or why it is ignored whole (naming `path`'s key and the value).

    Unknown keys and v0.9 notes do not make an entry ignored (`_parse_map` reports them)."""
    try:
        entry = cls.model_validate(load_entry_value(value))
    except ValidationError as err:
        return describe_validation_error(err, path)
    except ValueError as err:
        return _at(path, str(err))
    scoped = override_key(key)
    if key != DEFAULT_KEY and not entry.model_id and scoped is not None:  # v0.9: `{modelID}#{namespace}`
        entry = entry.model_copy(update={"model_id": scoped[0], "namespace": entry.namespace or scoped[1]})
    if key != DEFAULT_KEY and not entry.model_id:
        return _at(path, "override entry has no model_id")
    return entry


def _parse_map(data: Mapping[str, Any], cls: type[E], where: str, warnings: list[str]) -> ParsedConfigMap[E]:
    default: E | None = None
    overrides: list[ParsedEntry[E]] = []
    for key in sorted(data):
        path = f"{where}.{key}"
        entry = read_entry(cls, key, data[key], path)
        if isinstance(entry, str):
            warnings.append(f"{entry}; entry ignored")
            continue
        for unknown in entry.unknown_keys():
            warnings.append(f"{path}.{unknown}: unknown key ignored")
        if isinstance(entry, SaturationEntry):
            warnings.extend(entry_notes(entry, path))
        if key == DEFAULT_KEY:
            default = entry
        else:
            overrides.append(ParsedEntry(key, entry))
    return ParsedConfigMap(default, tuple(overrides))


def parse_config(cfg: SnapshotConfig) -> ParsedConfig:
    """Every entry typed; the warnings start with the entries the controller kept (`core.last_valid`)."""
    warnings: list[str] = []
    sat = _parse_map(cfg.saturation, SaturationEntry, "config.saturation", warnings)
    stz = _parse_map(cfg.scale_to_zero, ScaleToZeroEntry, "config.scaleToZero", warnings)
    ns_sat = {
        ns: _parse_map(c.saturation, SaturationEntry, f"config.namespaces.{ns}.saturation", warnings)
        for ns, c in sorted(cfg.namespaces.items())
    }
    ns_stz = {
        ns: _parse_map(c.scale_to_zero, ScaleToZeroEntry, f"config.namespaces.{ns}.scaleToZero", warnings)
        for ns, c in sorted(cfg.namespaces.items())
    }
    return ParsedConfig(sat, stz, ns_sat, ns_stz, cfg.scale_to_zero_fallback, (*cfg.kept_entries, *warnings))


@dataclass(frozen=True, slots=True)
class SettingsRule:
    """One validation rule of merged settings and the fields it reads (an entry that sets every one of them breaks
    the rule in whatever merge it takes part: `entry_problem`)."""

    fields: frozenset[str]
    problem: Callable[[SaturationSettings], str | None]


def _rule(*names: str) -> Callable[[Callable[[SaturationSettings], str | None]], SettingsRule]:
    return lambda check: SettingsRule(frozenset(names), check)


@_rule("kv_cache_threshold")
def _kv_threshold(s: SaturationSettings) -> str | None:
    ok = 0.0 <= s.kv_cache_threshold <= 1.0
    return None if ok else f"kvCacheThreshold must be in [0,1], got {s.kv_cache_threshold}"


@_rule("kv_spare_trigger")
def _kv_trigger(s: SaturationSettings) -> str | None:
    return None if 0.0 <= s.kv_spare_trigger <= 1.0 else f"kvSpareTrigger must be in [0,1], got {s.kv_spare_trigger}"


@_rule("queue_length_threshold")
def _queue_threshold(s: SaturationSettings) -> str | None:
    ok = s.queue_length_threshold >= 0
    return None if ok else f"queueLengthThreshold must be >= 0, got {s.queue_length_threshold}"


@_rule("queue_spare_trigger")
def _queue_trigger(s: SaturationSettings) -> str | None:
    return None if s.queue_spare_trigger >= 0 else f"queueSpareTrigger must be >= 0, got {s.queue_spare_trigger}"


@_rule("kv_cache_threshold", "kv_spare_trigger")
def _kv_order(s: SaturationSettings) -> str | None:
    if s.kv_cache_threshold >= s.kv_spare_trigger:
        return None
    return f"kvCacheThreshold ({s.kv_cache_threshold}) must be >= kvSpareTrigger ({s.kv_spare_trigger})"


@_rule("analyzer_name", "scale_up_threshold")
def _v2_up(s: SaturationSettings) -> str | None:
    if s.analyzer_name != "saturation" or 0.0 < s.scale_up_threshold <= 1.0:
        return None
    return f"scaleUpThreshold must be in (0,1], got {s.scale_up_threshold}"


@_rule("analyzer_name", "scale_down_boundary")
def _v2_down(s: SaturationSettings) -> str | None:
    if s.analyzer_name != "saturation" or 0.0 < s.scale_down_boundary <= 1.0:
        return None
    return f"scaleDownBoundary must be in (0,1], got {s.scale_down_boundary}"


@_rule("analyzer_name", "scale_up_threshold", "scale_down_boundary")
def _v2_order(s: SaturationSettings) -> str | None:
    if s.analyzer_name != "saturation" or s.scale_up_threshold > s.scale_down_boundary:
        return None
    return f"scaleUpThreshold ({s.scale_up_threshold}) must be > scaleDownBoundary ({s.scale_down_boundary})"


@_rule("transition_timeout_seconds")
def _timeout(s: SaturationSettings) -> str | None:
    t = s.transition_timeout_seconds
    return None if t > 0 else f"transitionTimeoutSeconds must be > 0, got {t}"


@_rule("gpu_budget")
def _gpu_budget(s: SaturationSettings) -> str | None:
    return None if all(v >= 0 for v in s.gpu_budget.values()) else f"gpuBudget values must be >= 0, got {s.gpu_budget}"


@_rule("power_budget_watts")
def _power_budget(s: SaturationSettings) -> str | None:
    w = s.power_budget_watts
    return None if w is None or w >= 0 else f"powerBudgetWatts must be >= 0, got {w}"


SETTINGS_RULES: tuple[SettingsRule, ...] = (
    _kv_threshold,
    _kv_trigger,
    _queue_threshold,
    _queue_trigger,
    _kv_order,
    _v2_up,
    _v2_down,
    _v2_order,
    _timeout,
    _gpu_budget,
    _power_budget,
)


def validate_settings(s: SaturationSettings) -> str | None:
    """The first rule a merged configuration breaks, naming both values; None when valid."""
    return next((p for rule in SETTINGS_RULES if (p := rule.problem(s)) is not None), None)


def entry_rule_problem(
    s: SaturationSettings, entry: SaturationEntry, rules: Iterable[SettingsRule] = SETTINGS_RULES
) -> str | None:
    """The first of ``rules`` that ``s`` (settings ``entry`` took part in) breaks; a value the entry set through
    its v0.9 `analyzers[i].parameters` is named by that path, since the rule names only the field."""
    folded = folded_parameters(entry)
    for rule in rules:
        problem = rule.problem(s)
        if problem is not None:
            paths = sorted(path for name, (_, path) in folded.items() if name in rule.fields)
            return f"{problem} (set by {', '.join(paths)})" if paths else problem
    return None


def entry_fields(entry: SaturationEntry) -> dict[str, Any]:
    """The settings fields an entry sets, with those its v0.9 `analyzers:` list implies (analyzerName, folded
    parameters), as `SaturationSettings` values."""
    updates = {name: getattr(entry, name) for name in SATURATION_FIELDS if getattr(entry, name) is not None}
    updates.update(entry_updates(entry))
    for name in ("analyzers", "limiters"):
        if name in updates:
            updates[name] = tuple(updates[name])
    return updates


def _apply(base: SaturationSettings, entry: SaturationEntry) -> SaturationSettings:
    updates = entry_fields(entry)
    return base.model_copy(update=updates) if updates else base


def _model_override(m: ParsedConfigMap[E] | None, namespace: str, model_id: str) -> E | None:
    """The override for a model: an entry naming this namespace beats one naming none; ties: key order."""
    if m is None:
        return None
    scoped = [p.entry for p in m.overrides if p.entry.model_id == model_id and p.entry.namespace == namespace]
    unscoped = [p.entry for p in m.overrides if p.entry.model_id == model_id and not p.entry.namespace]
    found = scoped or unscoped
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class ResolvedSaturation:
    settings: SaturationSettings
    problems: tuple[str, ...]


def resolve_saturation(cfg: ParsedConfig, namespace: str, model_id: str) -> ResolvedSaturation:
    """The merged saturation settings of one model group, with the entries that were skipped and why."""
    ns_map = cfg.ns_saturation.get(namespace)
    layers: list[tuple[str, SaturationEntry | None]] = [
        ("global default", cfg.saturation.default),
        (f"namespace {namespace} default", ns_map.default if ns_map else None),
        (f"global override for {model_id}", _model_override(cfg.saturation, namespace, model_id)),
        (f"namespace {namespace} override for {model_id}", _model_override(ns_map, namespace, model_id)),
    ]
    settings = BUILTIN_SATURATION
    problems: list[str] = []
    for label, entry in layers:
        if entry is None:
            continue
        candidate = _apply(settings, entry)
        problem = entry_rule_problem(candidate, entry)
        if problem is None:
            settings = candidate
        else:
            problems.append(f"{label} ignored: {problem}")
    return ResolvedSaturation(settings, tuple(problems))


@dataclass(frozen=True, slots=True)
class ScaleToZeroSettings:
    enabled: bool
    retention_s: float
    problems: tuple[str, ...] = ()


def resolve_scale_to_zero(cfg: ParsedConfig, namespace: str, model_id: str) -> ScaleToZeroSettings:
    """Model entry (namespace-local first) > default entry (namespace-local first) > env fallback > off."""
    ns_map = cfg.ns_scale_to_zero.get(namespace)
    chain = [
        _model_override(ns_map, namespace, model_id),
        _model_override(cfg.scale_to_zero, namespace, model_id),
        ns_map.default if ns_map else None,
        cfg.scale_to_zero.default,
    ]
    enabled = inline_scale_to_zero(resolve_saturation(cfg, namespace, model_id).settings)  # v0.9 inline first
    if enabled is None:
        enabled = next((e.enable_scale_to_zero for e in chain if e and e.enable_scale_to_zero is not None), None)
    problems: list[str] = []
    retention_s = DEFAULT_RETENTION_S
    for entry in chain:
        value = retention_of(entry) if entry is not None else None
        if isinstance(value, str):
            problems.append(value)
        elif value is not None:
            retention_s = value
            break
    return ScaleToZeroSettings(
        enabled=cfg.scale_to_zero_fallback if enabled is None else enabled,
        retention_s=retention_s,
        problems=tuple(problems),
    )


def retention_of(entry: ScaleToZeroEntry) -> float | str | None:
    """An entry's `retention_period` in seconds, why it is invalid (naming the value), or None when unset."""
    if entry.retention_period is None:
        return None
    try:
        value = parse_duration_s(entry.retention_period)
    except ValueError as err:
        return f"retention_period: {err}"
    return value if value > 0 else f"retention_period must be > 0, got {entry.retention_period!r}"
