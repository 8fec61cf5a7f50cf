"""What `propose` hands to `finalize` (and a shard to the coordinator): a draft per VA, the state to carry and the
warnings. Pure data; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wva_ray.api.config import SaturationSettings
from wva_ray.api.plan import VariantTelemetry
from wva_ray.api.snapshot import DecisionState
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.variants import Variant


@dataclass(slots=True)
class Draft:
    """A variant's decision before global allocation."""

    variant: Variant
    desired: int
    reason: str
    steps: list[str]
    analyzer: str
    actable: bool
    held: bool
    timed_out: bool = False
    woke_from_zero: bool = False
    spare_ratio: float = 0.0
    cost_per_capacity: float = 0.0
    notes: list[str] = field(default_factory=list)
    class_priority: int | None = None  # analyzer slo: the service class's priority (allocation order)
    telemetry: VariantTelemetry = field(default_factory=VariantTelemetry)  # for the v0.9 metrics
    rescale_priority: int = 1  # the group's v0.9 entry `priority` (priority rescale's weight)
    # why this VA's metrics could not be read this cycle (the metrics source failed for its shard, or its shard's
    # answer came too late after its source failed); None when they were read. Its MetricsAvailable condition says it
    metrics_error: str | None = None
    warming_s: float | None = None  # metrics back after an outage for this long, still warming up (core.warmup)


@dataclass(frozen=True, slots=True)
class GroupWarnings:
    """One model group's warnings: its configuration entries that were skipped, and its analyzer's warnings."""

    config: tuple[str, ...] = ()
    analyzer: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Proposals:
    """What `propose` returns: drafts for every VA, the updated state, and the warnings, the snapshot-wide ones
    apart from each group's, so that proposals for disjoint groups merge into `propose`'s order (core.sharding)."""

    drafts: list[Draft]
    state: DecisionState
    global_warnings: tuple[str, ...]
    group_warnings: Mapping[ModelGroupRef, GroupWarnings]
    allocation_settings: SaturationSettings

    @property
    def warnings(self) -> list[str]:
        """Snapshot-wide, then every group's configuration problems, then every group's analyzer warnings."""
        groups = [w for _, w in sorted(self.group_warnings.items(), key=lambda item: item[0])]
        return [*self.global_warnings, *(x for g in groups for x in g.config), *(x for g in groups for x in g.analyzer)]
