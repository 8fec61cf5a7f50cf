"""The enforcer, applied per model group after either analyzer (wva-behaviour.md 3.4). Pure.

Scale-to-zero zeroes a model only on positive evidence (a request count of exactly 0 over the retention window);
an unknown count keeps the targets. Otherwise a model never drops to zero: its cheapest variant keeps one replica.
Scale-from-zero wakes the cheapest variant of a model at zero when the gateway queue holds requests. Finally each
variant is clamped to its own minReplicas/maxReplicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wva_ray.core.config import ScaleToZeroSettings
from wva_ray.core.rules import cheapest
from wva_ray.core.variants import Variant


@dataclass(frozen=True, slots=True)
class EnforcerResult:
    targets: dict[str, int]
    notes: dict[str, str]  # per variant key: what the enforcer changed and why
    steps: list[str]
    scaled_from_zero: frozenset[str]


def _cheapest(variants: Sequence[Variant]) -> Variant | None:
    """Cheapest variant that may hold a replica (ties: name ascending; an unparsable cost already counts 10)."""
    return cheapest(v for v in variants if v.max_replicas is None or v.max_replicas >= 1)


def clamp(value: int, v: Variant) -> int:
    if v.min_replicas is not None:
        value = max(value, v.min_replicas)
    if v.max_replicas is not None:
        value = min(value, v.max_replicas)
    return max(value, 0)


def enforce(
    actable: Sequence[Variant],
    targets: dict[str, int],
    fixed_total: int,
    stz: ScaleToZeroSettings,
    request_count: float | None,
    flow_queue: float | None,
) -> EnforcerResult:
    """`actable`: the variants we may change; `targets` their proposals; `fixed_total`: replicas held elsewhere
    in the model (variants we may not change this cycle)."""
    out = dict(targets)
    notes: dict[str, str] = {}
    steps: list[str] = []
    woke: set[str] = set()
    if not actable:
        return EnforcerResult(out, notes, steps, frozenset())
    zeroed = False
    if stz.enabled:
        if request_count is None:
            steps.append("scale-to-zero: request count unknown; targets kept (never zero on doubt)")
        elif request_count == 0:
            for v in actable:
                if out[v.key] != 0:
                    notes[v.key] = f"scale-to-zero: no requests in the last {stz.retention_s:g}s"
                out[v.key] = 0
            zeroed = True
            steps.append(f"scale-to-zero: 0 requests in {stz.retention_s:g}s; every variant to 0")
        else:
            steps.append(f"scale-to-zero: {request_count:g} requests in {stz.retention_s:g}s; targets kept")
    model_total = fixed_total + sum(out[v.key] for v in actable)
    all_at_zero = all(v.current == 0 for v in actable) and fixed_total == 0
    if flow_queue is not None and flow_queue > 0 and all_at_zero and model_total == 0:
        pick = _cheapest(actable)
        if pick is not None:
            out[pick.key] = 1
            woke.add(pick.key)
            notes[pick.key] = f"scale-from-zero: {flow_queue:g} requests queued at the gateway; cheapest variant"
            steps.append(f"scale-from-zero: {pick.name} to 1")
    elif not zeroed and model_total == 0 and not (stz.enabled and request_count is None):
        pick = _cheapest(actable)
        if pick is not None:
            out[pick.key] = 1
            notes[pick.key] = "model minimum: the cheapest variant keeps one replica"
            steps.append(f"model minimum: {pick.name} keeps 1 replica")
    for v in actable:
        bounded = clamp(out[v.key], v)
        if bounded != out[v.key]:
            notes[v.key] = (
                f"clamped to [{v.min_replicas if v.min_replicas is not None else 0}, "
                f"{v.max_replicas if v.max_replicas is not None else 'inf'}]: {out[v.key]} -> {bounded}"
            )
            steps.append(f"{v.name}: {notes[v.key]}")
            out[v.key] = bounded
    return EnforcerResult(out, notes, steps, frozenset(woke))
