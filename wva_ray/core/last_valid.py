"""The last valid version of each ConfigMap entry, used while the ConfigMap holds an invalid one. Pure.

A user who breaks an entry (`default` gets `kvCacheThreshold: 7.5`) expects the controller to go on deciding with
what the entry said before, as Kubernetes controllers do, and to say so, not to fall back to the built-in defaults
until the edit is fixed. `keep_last_valid` takes the ConfigMap data read this cycle and the memory of the last
cycle and returns the data to decide with, one note per entry it replaced, and the memory for the next cycle; the
caller (the Kubernetes reader) holds the memory. Per entry, keyed by (namespace, ConfigMap, key):

- valid now: used, and remembered as its last valid version;
- invalid now, with a remembered version: that version is used; the note names the ConfigMap and key, the time
  the entry was first seen invalid and what is wrong with it (field and value);
- invalid now and never seen valid: used as it is, so that `core.config` ignores and reports it (as before);
- gone from the ConfigMap (or the ConfigMap deleted): forgotten; a deletion is an edit like any other.

Which validity is remembered: an entry valid ALONE (`entry_problem`): it parses, an override names its model,
a scale-to-zero entry's `retention_period` is a positive duration, and it breaks no `SETTINGS_RULES` rule whose
fields it sets all by itself (a rule such an entry breaks is broken in every merge, since the entry's values win
when it is applied, so `core.config` would skip it whatever comes before). An entry that only fails merged onto
the entries before it (`kvSpareTrigger: 0.9` in a namespace under a global `kvCacheThreshold: 0.8`) is not
replaced: whether it is valid depends on other entries, possibly the ones just edited, and `core.config` skips it
for the model groups where the merge fails, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from wva_ray.api.config import BUILTIN_SATURATION, SaturationEntry, ScaleToZeroEntry
from wva_ray.api.snapshot import NamespaceConfig, SnapshotConfig
from wva_ray.core.config import SETTINGS_RULES, entry_fields, entry_rule_problem, read_entry, retention_of

ConfigKind = Literal["saturation", "scaleToZero"]
KINDS: tuple[ConfigKind, ...] = ("saturation", "scaleToZero")


@dataclass(frozen=True, slots=True, order=True)
class EntryRef:
    """Where an entry lives: the namespace of its ConfigMap ("" = the global one), which ConfigMap, which key."""

    namespace: str
    kind: ConfigKind
    key: str

    @property
    def path(self) -> str:
        """The entry's key path in the snapshot (as `core.config` warnings name it)."""
        where = f"config.namespaces.{self.namespace}." if self.namespace else "config."
        return f"{where}{self.kind}.{self.key}"


@dataclass(frozen=True, slots=True)
class Remembered:
    """An entry's last valid value (as read: a YAML string or an object) and, while the ConfigMap holds an
    invalid one, when that was first seen."""

    value: Any
    invalid_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class LastValid:
    """The memory carried from cycle to cycle (returned anew by `keep_last_valid`)."""

    entries: Mapping[EntryRef, Remembered] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConfigMapNames:
    """How the notes name the ConfigMaps: their names and the controller's namespace (the global ones')."""

    saturation: str
    scale_to_zero: str
    home_namespace: str = ""

    def of(self, ref: EntryRef) -> str:
        name = self.saturation if ref.kind == "saturation" else self.scale_to_zero
        namespace = ref.namespace or self.home_namespace
        return f"{namespace}/{name}.{ref.key}" if namespace else f"{name}.{ref.key}"


@dataclass(frozen=True, slots=True)
class KeptConfig:
    """What to decide with (`config`, whose `kept_entries` are the `notes`) and the memory for the next cycle."""

    config: SnapshotConfig
    memory: LastValid
    notes: tuple[str, ...] = ()


def entry_problem(kind: ConfigKind, key: str, value: Any) -> str | None:
    """Why an entry is invalid alone, naming the field and the value; None when it is valid alone."""
    if kind == "scaleToZero":
        stz = read_entry(ScaleToZeroEntry, key, value)
        retention = stz if isinstance(stz, str) else retention_of(stz)
        return retention if isinstance(retention, str) else None
    entry = read_entry(SaturationEntry, key, value)
    if isinstance(entry, str):
        return entry
    fields = entry_fields(entry)
    alone = BUILTIN_SATURATION.model_copy(update=fields)
    return entry_rule_problem(alone, entry, (rule for rule in SETTINGS_RULES if rule.fields <= fields.keys()))


def _utc(t: datetime) -> str:
    return (t.astimezone(UTC) if t.tzinfo else t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(config: SnapshotConfig) -> dict[EntryRef, Any]:
    out: dict[EntryRef, Any] = {}
    maps = [("", config.saturation, config.scale_to_zero)]
    maps += [(ns, c.saturation, c.scale_to_zero) for ns, c in config.namespaces.items()]
    for namespace, saturation, scale_to_zero in maps:
        for kind, data in zip(KINDS, (saturation, scale_to_zero), strict=True):
            out.update({EntryRef(namespace, kind, key): value for key, value in data.items()})
    return out


def _with_entries(config: SnapshotConfig, entries: Mapping[EntryRef, Any], notes: list[str]) -> SnapshotConfig:
    def data(namespace: str, kind: ConfigKind) -> dict[str, Any]:
        return {r.key: v for r, v in entries.items() if (r.namespace, r.kind) == (namespace, kind)}

    namespaces = {
        ns: NamespaceConfig(saturation=data(ns, "saturation"), scale_to_zero=data(ns, "scaleToZero"))
        for ns in config.namespaces
    }
    return config.model_copy(
        update={
            "saturation": data("", "saturation"),
            "scale_to_zero": data("", "scaleToZero"),
            "namespaces": namespaces,
            "kept_entries": [*config.kept_entries, *notes],
        }
    )


def keep_last_valid(config: SnapshotConfig, memory: LastValid, now: datetime, names: ConfigMapNames) -> KeptConfig:
    """The ConfigMap data to decide with this cycle, the notes on the entries replaced, and the next memory."""
    current = _entries(config)
    effective: dict[EntryRef, Any] = {}
    remembered: dict[EntryRef, Remembered] = {}
    notes: list[str] = []
    for ref in sorted(current):
        value = current[ref]
        last = memory.entries.get(ref)
        unchanged = last is not None and value == last.value  # a remembered value is valid: not parsed again
        problem = None if unchanged else entry_problem(ref.kind, ref.key, value)
        if problem is None:
            effective[ref], remembered[ref] = value, Remembered(value)
        elif last is None:
            effective[ref] = value  # never valid: core.config ignores and reports it
        else:
            since = last.invalid_since or now
            effective[ref], remembered[ref] = last.value, Remembered(last.value, since)
            notes.append(f"{ref.path}: kept the last valid entry of {names.of(ref)} since {_utc(since)}: {problem}")
    if not notes:  # nothing replaced: the data as read (the same object, key order and all)
        return KeptConfig(config, LastValid(remembered))
    return KeptConfig(_with_entries(config, effective, notes), LastValid(remembered), tuple(notes))
