"""Which decision rules the demo runs side by side, and what each stands for. Pure (no I/O).

By default the demo replays the same requests twice, at the same time, under two saturation ConfigMaps:

- `upstream`: what a stock install of upstream WVA v0.9 runs. Its code default is V1, but the ConfigMap it ships
  (`wva-saturation-scaling-config`) lists `analyzers: [{name: saturation, score: 1.0}]`, and a listed analyzer
  selects V2 (upstream-v0.9.md section 3). So the rule a user of upstream actually gets is V2 `saturation`, not V1;
  comparing with V1 would pit wva-ray against a configuration nobody installs. The run uses upstream's own
  ConfigMap shape, so it goes through the same key resolution as a migrated upstream ConfigMap.
- `wva-ray`: what a fresh wva-ray install runs (the Helm chart's ConfigMap: `analyzerName: learned`; its other
  keys equal the built-in defaults).

`--analyzer NAME` swaps the wva-ray side for another registered analyzer (`v1` names upstream's code default,
`""`); `--no-compare` runs that side alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from wva_ray.api.config import AnalyzerName
from wva_ray.api.snapshot import SnapshotConfig

DEFAULT_ANALYZER = "learned"  # what a fresh install runs (helm/wva-ray/values.yaml saturation.default)
V1_ALIAS = "v1"  # a command-line name for upstream's code default analyzer ""
ANALYZER_CHOICES: tuple[str, ...] = tuple(name or V1_ALIAS for name in get_args(AnalyzerName))


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One run of the demo: its label, the analyzer its ConfigMap selects and what that configuration stands for."""

    label: str
    analyzer: str
    stands_for: str  # one line for the terminal and summary.json
    short: str  # a few words for the plot's column titles
    saturation_default: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> SnapshotConfig:
        """The snapshot configuration of this run: its saturation ConfigMap's `default` entry."""
        return SnapshotConfig(saturation={"default": dict(self.saturation_default)})


UPSTREAM_RUN = DemoRun(
    "upstream",
    "saturation",
    "upstream WVA v0.9 as installed: its shipped ConfigMap lists `saturation` (V2)",
    "WVA v0.9 as installed (V2 saturation)",
    {"analyzers": [{"name": "saturation", "score": 1.0}]},
)
WVA_RAY_RUN = DemoRun(
    "wva-ray",
    DEFAULT_ANALYZER,
    "wva-ray's default, what a fresh install runs (analyzerName: learned)",
    "default install (learned)",
    {"analyzerName": DEFAULT_ANALYZER},
)


def analyzer_name(choice: str) -> str:
    """A command-line analyzer name as the ConfigMap spells it (`v1` -> `""`). Raises ValueError on an unknown name,
    listing the known ones."""
    name = "" if choice == V1_ALIAS else choice
    if name not in get_args(AnalyzerName):
        raise ValueError(f"unknown analyzer {choice!r}; known: {', '.join(ANALYZER_CHOICES)}")
    return name


def run_for(analyzer: str) -> DemoRun:
    """The run that selects `analyzer` (a ConfigMap name; `""` is V1): the two presets by their analyzer, any other
    as a plain `analyzerName` entry."""
    for preset in (WVA_RAY_RUN, UPSTREAM_RUN):
        if preset.analyzer == analyzer:
            return preset
    label = analyzer or V1_ALIAS
    return DemoRun(
        label,
        analyzer,
        f"analyzerName: {analyzer!r} (not the default)",
        f"analyzer {label}",
        {"analyzerName": analyzer},
    )


def demo_runs(analyzer: str = DEFAULT_ANALYZER, compare: bool = True) -> tuple[DemoRun, ...]:
    """The runs of one demo: upstream's rule then `analyzer`'s when comparing, else `analyzer`'s alone. Comparing
    upstream's rule with itself is one run."""
    chosen = run_for(analyzer)
    if not compare or chosen == UPSTREAM_RUN:
        return (chosen,)
    return (UPSTREAM_RUN, chosen)
