"""WVA v0.9's `wva-queueing-model-config` mapped onto wva-ray's SLO sizing (analyzer `slo`). Pure.

(upstream-v0.9.md section 3, "Queueing-model (SLO) analyzer".) Upstream activates its queueing-model analyzer when
the ConfigMap has a `default` key, and it then takes precedence; since #1516 it is parked: the engine emits
`OptimizationRefused` and holds the last count. wva-ray **sizes** instead: with a `default` key every model group
runs analyzer `slo`, and the targets become a service class:
- `default: {targetTTFT, targetITL}` (ms; both or neither) is the class-wide row; per-model entries
  (`model_id`, `namespace`, the same keys) are rows for their model (wva-ray's classes are per model: two
  namespaces giving one model different targets is reported and the first wins);
- a target of 0, or none, means "infer" upstream (the latency at T = k*alpha); wva-ray does not infer, so such a
  model keeps the default service class (reported once);
- `sloMultiplier` (k > 1, default 3) and `tuningEnabled` (default true) are validated; wva-ray's slo analyzer has
  no use for them (it sizes to the targets and always learns its profile).
The class is the default class unless `service-classes-config` names one (`default-class`). Every bad key is
reported with key and value, and the entry is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wva_ray.api.config import load_entry_value
from wva_ray.api.service_class import DEFAULT_CLASS_KEY

CLASS_NAME = "wva-queueing-model"
CLASS_KEY = "wva-queueing-model.yaml"


@dataclass(frozen=True, slots=True)
class QueueingModel:
    """The mapped ConfigMap: `active` when it has a `default` key; the service-class entries to add."""

    active: bool
    service_classes: Mapping[str, Any]
    warnings: tuple[str, ...]


def _number(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"{where}.{key}: {value!r} is not a number >= 0")
        return None
    return float(value)


def _targets(entry: Mapping[str, Any], where: str, problems: list[str]) -> tuple[float, float] | None:
    """(TTFT ms, ITL ms), None to infer; appends to `problems` when the entry is invalid."""
    ttft = _number(entry, "targetTTFT", where, problems)
    itl = _number(entry, "targetITL", where, problems)
    k = entry.get("sloMultiplier")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | float) or k <= 1):
        problems.append(f"{where}.sloMultiplier: {k!r} must be a number > 1")
    tuning = entry.get("tuningEnabled")
    if tuning is not None and not isinstance(tuning, bool):
        problems.append(f"{where}.tuningEnabled: {tuning!r} is not true or false")
    if (ttft is None) != (itl is None) or (ttft == 0) != (itl == 0):
        problems.append(f"{where}: set both targetTTFT and targetITL, or neither (got {ttft!r}, {itl!r})")
        return None
    return (ttft, itl) if ttft and itl else None


def map_queueing_model(data: Mapping[str, Any], user_classes: Mapping[str, Any]) -> QueueingModel:
    """`data`: the ConfigMap's data (each value a YAML string or an object)."""
    if "default" not in data:
        return QueueingModel(False, {}, ())
    warnings: list[str] = []
    rows: list[dict[str, Any]] = []
    seen: dict[str, tuple[float, float]] = {}
    inferred: list[str] = []
    for key in ["default", *sorted(k for k in data if k != "default")]:
        where = f"wva-queueing-model-config.{key}"
        try:
            entry = load_entry_value(data[key])
        except ValueError as err:
            warnings.append(f"{where}: {err}; skipped")
            continue
        problems: list[str] = []
        targets = _targets(entry, where, problems)
        model = "*" if key == "default" else str(entry.get("model_id") or "")
        if not model:
            problems.append(f"{where}.model_id: missing")
        if problems:
            warnings += [f"{p}; entry skipped" for p in problems]
            continue
        if targets is None:
            inferred.append(model)
            continue
        if model in seen:
            if seen[model] != targets:
                warnings.append(f"{where}: model {model!r} has other targets in another namespace; the first wins")
            continue
        seen[model] = targets
        rows.append({"model": model, "slo-ttft": targets[0], "slo-tpot": targets[1]})
    if inferred:
        warnings.append(
            f"wva-queueing-model-config: targets to infer for {', '.join(inferred)}: wva-ray does not infer "
            "targets; these models keep the default service class"
        )
    classes: dict[str, Any] = {}
    if rows:
        classes[CLASS_KEY] = {"name": CLASS_NAME, "data": rows}
        if DEFAULT_CLASS_KEY not in user_classes:
            classes[DEFAULT_CLASS_KEY] = CLASS_NAME
    return QueueingModel(True, classes, tuple(warnings))
