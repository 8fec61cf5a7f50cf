"""The v0.9 `analyzers:` list drives the sizing (upstream-v0.9.md section 3, "Combining analyzers"). Pure.

`analyzer_of(settings)` picks what sizes a model group:
- no list, a list whose only enabled, known item is `saturation`, or a list with nothing enabled and known: the
  registry's analyzer for `analyzerName` (the list implies `saturation`, see `core.v09_config`); so every
  configuration that worked before decides exactly as before;
- an explicit `analyzerName` other than `saturation` (`slo`, `learned`, V1): that analyzer; the list does not
  replace it;
- otherwise a `ListAnalyzer` over the listed kinds: every enabled, known analyzer of the list runs on the same
  group, and their targets fold by `core.analyzers.combine` (up if any live analyzer asks, the largest ask; down
  only if every live analyzer agrees, the smallest removal; no live analyzer, no move).

Saturation (V2) always runs, as upstream's does: it carries the capacity history and gives the allocation its
cost per capacity. It votes only when listed. An analyzer is live when it returned a capacity view with a
positive per-replica capacity this cycle (upstream also counts a result from the last 3 intervals; wva-ray's
combination counts this cycle only: an analyzer that lost its signal stops voting at once).

`score` does not weigh a vote (upstream neither): upstream uses it only in the greedy-by-score optimizer's model
score (priority x sum of scores x remaining demand), which wva-ray does not run; wva-ray's allocation is priority
order, or with `enableRescale` shares by priority x demand (`core.allocation.rescale_caps`). It is validated (>= 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from wva_ray.api.config import SaturationSettings
from wva_ray.api.v09_config import KNOWN_ANALYZERS
from wva_ray.core.analyzers.base import Analyzer, AnalyzerSettings, GroupState, ModelGroup, Sizing
from wva_ray.core.analyzers.combine import Vote, combine
from wva_ray.core.analyzers.registry import ANALYZERS, analyzer_for

SATURATION = "saturation"


def list_kinds(s: SaturationSettings) -> tuple[str, ...]:
    """The enabled, known analyzer kinds of the list, in list order, each once."""
    kinds: list[str] = []
    for spec in s.analyzers:
        if spec.live and spec.kind in KNOWN_ANALYZERS and spec.kind not in kinds:
            kinds.append(spec.kind)
    return tuple(kinds)


def analyzer_of(s: SaturationSettings) -> Analyzer:
    """What sizes a group with these settings (see the module docstring)."""
    kinds = list_kinds(s)
    if s.analyzer_name != SATURATION or not kinds or kinds == (SATURATION,):
        return analyzer_for(s.analyzer_name)
    return ListAnalyzer(kinds)


def live(sizing: Sizing) -> bool:
    """The analyzer produced capacity this cycle."""
    return sizing.capacity is not None and any(c > 0 for c in sizing.capacity.per_replica.values())


@dataclass(frozen=True, slots=True)
class ListAnalyzer:
    """Every analyzer of the list on one group, combined. `label`: the kinds joined by `+`."""

    kinds: tuple[str, ...]

    @property
    def label(self) -> str:
        return "+".join(self.kinds)

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing:
        runs: dict[str, Sizing] = {SATURATION: ANALYZERS[SATURATION].size(group, settings, state)}
        for kind in self.kinds:
            if kind not in runs:
                runs[kind] = ANALYZERS[kind].size(group, settings, state)
        votes = [Vote(kind, runs[kind].targets, live(runs[kind])) for kind in self.kinds]
        current = {v.key: v.current for v in group.variants}
        combined = combine(current, votes)
        reasons: dict[str, str] = {}
        for key in current:
            who = combined.deciders[key]
            reasons[key] = (
                f"{who}: {runs[who].reasons.get(key, '')}" if who else "held: no live analyzer in the analyzers list"
            )
        steps: list[str] = []
        history: dict[str, list[float]] = {}
        for kind, sizing in runs.items():
            voting = "votes" if kind in self.kinds else "runs for cost and history; not listed, no vote"
            state_word = "live" if live(sizing) else "not live"
            steps.append(f"analyzer {kind} ({voting}; {state_word})")
            steps += [f"  {s}" for s in sizing.steps]
            history.update(sizing.history)
        sat = runs[SATURATION]
        return Sizing(
            combined.targets,
            reasons,
            (*steps, *combined.steps),
            sat.cost_per_capacity,
            history=history,
            warnings=tuple(w for s in runs.values() for w in s.warnings),
            capacity=sat.capacity,
        )
