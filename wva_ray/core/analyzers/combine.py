"""Combining several analyzers' targets for one model group, as upstream v0.9 does. Pure.

(../shared/spec/reference/upstream-v0.9.md section 3, "Combining analyzers".)
- Only *live* analyzers vote: an analyzer that could not produce a result with capacity this cycle (it holds for
  lack of a signal) is left out.
- Up: if ANY live analyzer asks for more replicas of a variant, the variant gets the largest ask.
- Down: a variant is scaled down only if EVERY live analyzer asks for fewer, and by the smallest removal (the
  largest of their targets).
- With no live analyzer, nothing moves (no scale-down without a vote).

Per variant, both rules reduce to "the largest target of the live analyzers", which is what `combine` computes;
the step it returns names who decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Vote:
    analyzer: str
    targets: Mapping[str, int]  # variant key -> desired replicas
    live: bool = True


@dataclass(frozen=True, slots=True)
class Combined:
    targets: dict[str, int]
    deciders: dict[str, str]  # variant key -> the analyzer whose target was taken ("" = held at current)
    steps: tuple[str, ...]


def combine(current: Mapping[str, int], votes: Sequence[Vote]) -> Combined:
    """Final targets per variant key of `current` (see the module docstring)."""
    live = [v for v in votes if v.live]
    targets: dict[str, int] = {}
    deciders: dict[str, str] = {}
    steps: list[str] = []
    for key in sorted(current):
        asks = [(v.targets[key], v.analyzer) for v in live if key in v.targets]
        if not asks:
            targets[key], deciders[key] = current[key], ""
            continue
        best, who = max(asks, key=lambda a: (a[0], a[1]))
        targets[key], deciders[key] = best, who
        if len(asks) > 1 and len({a for a, _ in asks}) > 1:
            detail = ", ".join(f"{n} {a}" for a, n in sorted(asks, key=lambda a: a[1]))
            rule = "scale up: one analyzer asks" if best > current[key] else "scale down: smallest agreed removal"
            if best == current[key]:
                rule = "hold: not every analyzer agrees to scale down"
            steps.append(f"combine {key}: {detail} -> {best} ({rule})")
    if not live:
        steps.append("combine: no live analyzer; holding every variant")
    return Combined(targets, deciders, tuple(steps))
