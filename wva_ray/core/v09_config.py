"""Resolution of WVA v0.9's configuration keys (upstream-v0.9.md sections 3-4). Pure.

- `analyzers:` selects V2 (upstream: a stock install runs V2 because its ConfigMap lists `saturation`); the
  saturation analyzer's known `parameters` fold into the typed fields; `enabled: false` drops an item; unknown
  types are ignored (reported). A list naming more than saturation is run and combined by
  `core.analyzers.v09_list`.
- Override keys `{modelID}#{namespace}` (`override_key`).
- `scaleToZero: {enabled}` inline beats the scale-to-zero ConfigMap (`inline_scale_to_zero`).
- `limiters:` on the cluster `default` entry: `quota` (cluster or namespace scope; -1 unlimited, 0 or missing
  deny, the strictest wins) becomes the allocation's quota (`quota_of`); `gpu-inventory` is the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wva_ray.api.config import SaturationEntry, SaturationSettings
from wva_ray.api.v09_config import KNOWN_ANALYZERS, UNLIMITED, LimiterSpec

CLUSTER_DEFAULT_PATH = "config.saturation.default"  # the only entry whose limiters and enableRescale apply

# analyzer `parameters` that fold into typed fields (upstream's camelCase names)
PARAMETER_FIELDS: Mapping[str, str] = {
    "kvCacheThreshold": "kv_cache_threshold",
    "queueLengthThreshold": "queue_length_threshold",
    "kvSpareTrigger": "kv_spare_trigger",
    "queueSpareTrigger": "queue_spare_trigger",
    "scaleUpThreshold": "scale_up_threshold",
    "scaleDownBoundary": "scale_down_boundary",
}


def override_key(key: str) -> tuple[str, str] | None:
    """`{modelID}#{namespace}` -> (modelID, namespace); None for any other key."""
    model_id, sep, namespace = key.partition("#")
    return (model_id, namespace) if sep and model_id and namespace else None


def folded_parameters(entry: SaturationEntry) -> dict[str, tuple[float, str]]:
    """The typed fields the entry's live saturation `parameters` set (fields the entry sets itself win), each with
    its value and where in the entry it was written (`analyzers[i].parameters.<key>`, for error messages)."""
    out: dict[str, tuple[float, str]] = {}
    for i, spec in enumerate(entry.analyzers or []):
        if spec.kind != "saturation" or not spec.live:
            continue
        for key, value in spec.parameters.items():
            name = PARAMETER_FIELDS.get(key)
            if name is not None and getattr(entry, name) is None and isinstance(value, int | float):
                out[name] = (float(value), f"analyzers[{i}].parameters.{key}")
    return out


def entry_updates(entry: SaturationEntry) -> dict[str, Any]:
    """The typed fields an entry's `analyzers:` list implies (fields the entry sets itself win)."""
    if entry.analyzers is None:
        return {}
    updates: dict[str, Any] = {}
    if entry.analyzer_name is None:
        updates["analyzer_name"] = "saturation"  # upstream: an analyzers list runs V2 (saturation always runs)
    updates.update({name: value for name, (value, _) in folded_parameters(entry).items()})
    return updates


def entry_notes(entry: SaturationEntry, path: str) -> list[str]:
    """Warnings about an entry's v0.9 keys that wva-ray accepts but does not act on (naming key and value)."""
    notes: list[str] = []
    for i, spec in enumerate(entry.analyzers or []):
        where = f"{path}.analyzers[{i}]"
        if spec.kind not in KNOWN_ANALYZERS:
            notes.append(f"{where}.type {spec.kind!r} is not a known analyzer; ignored")
        for key, value in spec.parameters.items():
            if spec.kind == "saturation" and key not in PARAMETER_FIELDS:
                notes.append(f"{where}.parameters.{key}: unknown parameter ignored")
            elif key in PARAMETER_FIELDS and not isinstance(value, int | float):
                notes.append(f"{where}.parameters.{key}: expected a number, got {value!r}; ignored")
        if spec.kind == "throughput" and spec.parameters:
            keys = ", ".join(sorted(spec.parameters))
            notes.append(f"{where}.parameters ({keys}): the throughput analyzer takes no parameters; ignored")
    if path != CLUSTER_DEFAULT_PATH:
        for key, value in (("limiters", entry.limiters), ("enableRescale", entry.enable_rescale)):
            if value:
                notes.append(f"{path}.{key}: only the cluster `default` entry's {key} applies (as upstream); ignored")
        return notes
    if any(lim.is_quota for lim in entry.limiters or []) and not entry.enable_limiter:
        notes.append(f"{path}.limiters: a quota needs enableLimiter: true (as upstream); not applied")
    if entry.enable_rescale and not entry.enable_limiter:
        notes.append(f"{path}.enableRescale: true needs enableLimiter: true (as upstream); not applied")
    return notes


def inline_scale_to_zero(s: SaturationSettings) -> bool | None:
    """The entry-level `scaleToZero.enabled` (None: inherit the scale-to-zero ConfigMap)."""
    return s.scale_to_zero.enabled if s.scale_to_zero is not None else None


@dataclass(frozen=True, slots=True)
class Quota:
    """GPU quotas per accelerator type (cluster) and per namespace; -1 unlimited, 0 or missing deny."""

    cluster: Mapping[str, int] | None = None  # None: no cluster-scope quota
    namespaces: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    namespace_default: Mapping[str, int] | None = None
    namespace_scoped: bool = False
    excluded: frozenset[str] = frozenset()

    def limit(self, namespace: str, accelerator: str) -> tuple[float, float]:
        """(cluster limit, namespace limit) in GPUs for one type; inf = unlimited."""
        return _limit(self.cluster, accelerator), self.namespace_limit(namespace, accelerator)

    def namespace_limit(self, namespace: str, accelerator: str) -> float:
        if not self.namespace_scoped or namespace in self.excluded:
            return float("inf")
        per_type = self.namespaces.get(namespace, self.namespace_default)
        return _limit(per_type, accelerator) if per_type is not None else 0.0  # no entry, no default: deny


def _limit(per_type: Mapping[str, int] | None, accelerator: str) -> float:
    if per_type is None:
        return float("inf")
    n = per_type.get(accelerator, 0)
    return float("inf") if n == UNLIMITED else float(n)


def quota_of(limiters: tuple[LimiterSpec, ...]) -> Quota | None:
    """The quota the cluster `default` entry's `limiters:` configures (quota wins over gpu-inventory)."""
    quotas = [lim for lim in limiters if lim.is_quota]
    if not quotas:
        return None
    cluster: dict[str, int] | None = None
    namespaces: dict[str, dict[str, int]] = {}
    default: dict[str, int] | None = None
    excluded: set[str] = set()
    scoped = False
    for lim in quotas:
        if lim.scope == "cluster":
            cluster = {**(cluster or {}), **lim.quotas}
        else:
            scoped = True
            for ns, per_type in lim.namespace_quotas.items():
                if ns == "default":
                    default = dict(per_type)
                else:
                    namespaces[ns] = dict(per_type)
            excluded.update(lim.exclude)
    return Quota(cluster, namespaces, default, scoped, frozenset(excluded))
