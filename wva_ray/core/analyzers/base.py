"""The one analyzer protocol and its one result type. Pure: no I/O, no clock (`now` is part of the input).

An analyzer sizes one model group: `size(group, settings, state) -> Sizing`.
- `ModelGroup`: the decidable variants of one (namespace, modelID) at `now` (live metrics, no blocking hold);
- `AnalyzerSettings`: the group's resolved settings (the merged saturation entry; the snapshot's parsed service
  classes and performance profiles);
- `GroupState`: what earlier cycles left for the group (V2's capacity history, analyzer slo's learned state);
- `Sizing`: a target and a reason per variant key, the steps, the allocation order hints, and the state to carry.
The pipeline (`core.decide`) picks the analyzer from the registry (`core.analyzers.registry`) by `analyzerName`,
and treats every analyzer alike; held and blocked variants never reach an analyzer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from wva_ray.api.config import SaturationSettings
from wva_ray.api.service_class import (
    PerfProfileEntry,
    ServiceClasses,
    parse_perf_profiles,
    parse_service_classes,
)
from wva_ray.api.snapshot import Pod, PodMetrics
from wva_ray.core.ports import ModelGroupRef
from wva_ray.core.variants import Variant


class PodRows:
    """The snapshot's raw per-pod rows, for analyzers that read beyond the cleaned signals (analyzer learned: the
    per-pod windows of vLLM series and the pods' creation/Ready times). Indexed once, on first use; shared by all
    groups of one cycle."""

    __slots__ = ("_by_pod", "_by_target", "_metrics", "_pods")

    def __init__(self, metrics: Sequence[PodMetrics] = (), pods: Sequence[Pod] = ()) -> None:
        self._metrics, self._pods = metrics, pods
        self._by_pod: dict[tuple[str, str], PodMetrics] | None = None
        self._by_target: dict[tuple[str, str], list[Pod]] | None = None

    def metrics(self, namespace: str, pod: str) -> PodMetrics | None:
        if self._by_pod is None:
            self._by_pod = {(m.namespace, m.pod): m for m in self._metrics if not m.stale}
        return self._by_pod.get((namespace, pod))

    def pods_of(self, namespace: str, target: str) -> Sequence[Pod]:
        if self._by_target is None:
            by_target: dict[tuple[str, str], list[Pod]] = {}
            for p in self._pods:
                by_target.setdefault((p.namespace, p.target), []).append(p)
            self._by_target = by_target
        return self._by_target.get((namespace, target), ())


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """The decidable variants of one model group (one modelID in one namespace), observed at `now`; `rows` the
    snapshot's raw per-pod rows, `gateway_queue` the gateway's flow-control queue for the model (requests)."""

    namespace: str
    model_id: str
    variants: tuple[Variant, ...]
    now: datetime
    rows: PodRows = field(default_factory=PodRows)
    gateway_queue: float = 0.0

    @property
    def ref(self) -> ModelGroupRef:
        return ModelGroupRef(self.namespace, self.model_id)

    @property
    def key(self) -> str:
        """`namespace/modelID` (`ModelGroupRef.text`)."""
        return self.ref.text


@dataclass(frozen=True, slots=True)
class SloContext:
    """The service classes and profile overrides of one snapshot, parsed once per cycle (analyzer slo)."""

    classes: ServiceClasses
    profiles: tuple[PerfProfileEntry, ...]
    warnings: tuple[str, ...]


def slo_context(service_classes: Mapping[str, Any], slo_profiles: Mapping[str, Any]) -> SloContext:
    classes, w1 = parse_service_classes(service_classes)
    profiles, w2 = parse_perf_profiles(slo_profiles)
    return SloContext(
        classes,
        profiles,
        tuple(f"config.serviceClasses.{w}" for w in w1) + tuple(f"config.sloProfiles.{w}" for w in w2),
    )


@dataclass(frozen=True, slots=True)
class AnalyzerSettings:
    """One model group's resolved settings."""

    saturation: SaturationSettings
    slo: SloContext


@dataclass(frozen=True, slots=True)
class GroupState:
    """What earlier cycles left: the capacity history (shared by model, keys `CapacityHistoryKey`) and the
    group's analyzer-slo state (None: nothing learned yet)."""

    capacity_history: Mapping[str, list[float]]
    slo: Mapping[str, Any] | None = None
    # analyzer learned: the group's own state, and every group's (priors from similar variants; read-only)
    learned: Mapping[str, Any] | None = None
    learned_peers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CapacityView:
    """An analyzer's capacity arithmetic for the group, in its own unit (V2: tokens): the capacity still required
    (upstream's RC), the spare capacity (SC) and the capacity of one replica per variant key (PRC). What a
    combination of analyzers (upstream v0.9: up if any asks, down only if all live ones agree) votes with."""

    unit: str
    required: float
    spare: float
    per_replica: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Sizing:
    """An analyzer's answer for one model group.

    `targets`/`reasons`: per decidable variant key. `cost_per_capacity`: the allocation order hint per key (a
    missing key counts the variant's cost). `timed_out`: keys whose transition lock expired this cycle.
    `class_priority`: the group's service-class priority for allocation (None: the VAs' own priorities).
    `history`: only the capacity-history keys this call changed. `slo_state` / `learned_state`: the group's new
    analyzer-slo / analyzer-learned state (None: leave it as it was). `capacity`: the capacity arithmetic behind
    the targets, when the analyzer has one.
    """

    targets: Mapping[str, int]
    reasons: Mapping[str, str]
    steps: tuple[str, ...]
    cost_per_capacity: Mapping[str, float] = field(default_factory=dict)
    timed_out: frozenset[str] = frozenset()
    class_priority: int | None = None
    history: Mapping[str, list[float]] = field(default_factory=dict)
    slo_state: Mapping[str, Any] | None = None
    learned_state: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    capacity: CapacityView | None = None


class Analyzer(Protocol):
    """Sizes one model group. `label` is what a decision's `analyzer` field says."""

    @property
    def label(self) -> str: ...

    def size(self, group: ModelGroup, settings: AnalyzerSettings, state: GroupState) -> Sizing: ...


def cost_per_capacity(variants: Sequence[Variant], capacity: Mapping[str, float]) -> dict[str, float]:
    """Cost per unit of capacity per variant key; the plain cost where the capacity is unknown (0)."""
    return {v.key: (v.cost / capacity[v.key] if capacity.get(v.key, 0) > 0 else v.cost) for v in variants}
