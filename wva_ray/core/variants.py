"""From a snapshot to per-variant state: target resolution, conflicts, value validation, live-pod metric join.

Pure. This is where degraded inputs become *decisions with reasons* rather than exceptions: a VA whose target is
missing, whose spec values are invalid, that shares its target with another VA, or that has no accelerator is
marked held with the condition that explains why, and its pods' metrics still count for its model's load.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from wva_ray.api.reasons import Reason
from wva_ray.api.snapshot import Pod, PodMetrics, ScaleTarget, Snapshot
from wva_ray.api.va import ACCELERATOR_LABEL, COST_PATTERN, VariantAutoscaling
from wva_ray.core.accelerator import accelerator_from_node_selector, normalize_accelerator

DEFAULT_COST_VALUE = 10.0
_COST_RE = re.compile(COST_PATTERN)
# Bounds that keep arithmetic finite on absurd inputs (a queue of 1e300 is as saturated as one of 1e9).
MAX_QUEUE = 1e9
MAX_TOKENS = 1e12
_INF = math.inf
# A pod Ready for less than this may not have been scraped yet (Prometheus scrapes every 15-30 s in most clusters
# and the saturation queries look back 1 m): its missing row is expected, not a partial answer.
NEW_POD_GRACE_S = 60.0


@dataclass(frozen=True, slots=True)
class PodSignal:
    """One live pod's cleaned signals."""

    pod: str
    kv: float
    queue: float
    total_kv_tokens: int = 0
    avg_in: float = 0.0
    avg_out: float = 0.0
    arrival_rate: float | None = None
    running: float | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a variant is not acted on this cycle: the condition it gets and a human message."""

    condition_type: str
    reason: Reason
    message: str


@dataclass(slots=True)
class Variant:
    """One VA and what the snapshot says about its scale target and pods."""

    va: VariantAutoscaling
    namespace: str
    name: str
    model_id: str
    accelerator: str
    cost: float
    priority: int
    min_replicas: int | None
    max_replicas: int | None
    current: int = 0
    ready: int = 0
    pending: int = 0
    previous_desired: int = 0
    gpus_per_replica: int = 1
    vllm_args: tuple[str, ...] = ()
    target_found: bool = False
    signals: list[PodSignal] = field(default_factory=list)
    stale_pods: int = 0
    # Ready pods (Ready for longer than NEW_POD_GRACE_S) with no metrics row at all, and the metrics source's
    # warnings about this cycle's answer: the decision is made on the pods that do report, and says so
    unreported_pods: tuple[str, ...] = ()
    metrics_warnings: tuple[str, ...] = ()
    holds: list[Hold] = field(default_factory=list)
    key: str = ""  # "namespace/name", set once in __post_init__ (read very often)

    def __post_init__(self) -> None:
        self.key = f"{self.namespace}/{self.name}"

    @property
    def metrics_count(self) -> int:
        return len(self.signals)

    @property
    def held_value(self) -> int:
        """What a variant that cannot be decided keeps: its previous desired, else its current count."""
        return self.previous_desired if self.previous_desired > 0 else self.current


def parse_cost(text: str) -> float | None:
    if not _COST_RE.match(text):
        return None
    return float(text)


def _spec_problems(va: VariantAutoscaling) -> list[str]:
    spec = va.spec
    problems: list[str] = []
    if parse_cost(spec.variant_cost) is None:
        problems.append(f"spec.variantCost {spec.variant_cost!r} does not match {COST_PATTERN}")
    if spec.min_replicas is not None and spec.min_replicas < 0:
        problems.append(f"spec.minReplicas must be >= 0, got {spec.min_replicas}")
    if spec.max_replicas is not None and spec.max_replicas < 1:
        problems.append(f"spec.maxReplicas must be >= 1, got {spec.max_replicas}")
    if spec.min_replicas is not None and spec.max_replicas is not None and spec.min_replicas > spec.max_replicas:
        problems.append(f"spec.minReplicas ({spec.min_replicas}) > spec.maxReplicas ({spec.max_replicas})")
    if not 0 <= spec.priority <= 1000:
        problems.append(f"spec.priority must be in [0,1000], got {spec.priority}")
    return problems


def _finite_pos(x: float | None) -> float:
    if x is None or not (0.0 < x < _INF):
        return 0.0
    return x if x < MAX_TOKENS else MAX_TOKENS


def _clean(m: PodMetrics) -> PodSignal | None:
    """Drop NaN/Inf/negative samples (never read as 0); bound the rest so the arithmetic stays finite."""
    kv, queue = m.kv_cache_usage, m.queue_length
    # `x >= 0 and x < inf` is False for NaN too
    if not (0.0 <= kv < _INF and 0.0 <= queue < _INF):
        return None
    total = 0
    blocks, size = m.num_gpu_blocks, m.block_size
    if blocks is not None and size is not None and blocks > 0 and size > 0:
        total = int(min(float(blocks) * float(size), MAX_TOKENS))
    rate, running = m.arrival_rate, m.running
    return PodSignal(
        pod=m.pod,
        kv=kv if kv < 1e6 else 1e6,
        queue=queue if queue < MAX_QUEUE else MAX_QUEUE,
        total_kv_tokens=total,
        avg_in=_finite_pos(m.avg_input_tokens),
        avg_out=_finite_pos(m.avg_output_tokens),
        arrival_rate=max(rate, 0.0) if rate is not None and math.isfinite(rate) else None,
        running=max(running, 0.0) if running is not None and math.isfinite(running) else None,
    )


def _accelerator(va: VariantAutoscaling, target: ScaleTarget | None) -> str:
    label = va.metadata.labels.get(ACCELERATOR_LABEL, "").strip()
    if label:
        return normalize_accelerator(label)
    if target is not None:
        return accelerator_from_node_selector(target.node_selector) or ""
    return ""


def _find_target(va: VariantAutoscaling, targets: dict[tuple[str, str, str], ScaleTarget]) -> ScaleTarget | None:
    ref = va.spec.scale_target_ref
    target = targets.get((va.metadata.namespace, ref.kind, ref.name))
    if target is None or target.deleting:
        return None
    if ref.api_version and target.api_version and ref.api_version.split("/")[0] != target.api_version.split("/")[0]:
        return None
    return target


def build_variants(snapshot: Snapshot) -> list[Variant]:
    """Every VA of the snapshot as a Variant, sorted by (namespace, name), with holds attached."""
    targets = {(t.namespace, t.kind, t.name): t for t in snapshot.scale_targets}
    pods_by_target: dict[tuple[str, str], list[Pod]] = defaultdict(list)
    for pod in snapshot.pods:
        pods_by_target[(pod.namespace, pod.target)].append(pod)
    metrics_by_pod: dict[tuple[str, str], list[PodMetrics]] = defaultdict(list)
    for row in snapshot.metrics:
        metrics_by_pod[(row.namespace, row.pod)].append(row)

    ref_owners: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for va in snapshot.variant_autoscalings:
        ref = va.spec.scale_target_ref
        ref_owners[(va.metadata.namespace, ref.kind, ref.name)].append(va.metadata.name)

    variants: list[Variant] = []
    for va in sorted(snapshot.variant_autoscalings, key=lambda v: (v.metadata.namespace, v.metadata.name)):
        variants.append(_build_one(va, targets, pods_by_target, metrics_by_pod, ref_owners, snapshot))
    return variants


def _build_one(
    va: VariantAutoscaling,
    targets: dict[tuple[str, str, str], ScaleTarget],
    pods_by_target: dict[tuple[str, str], list[Pod]],
    metrics_by_pod: dict[tuple[str, str], list[PodMetrics]],
    ref_owners: dict[tuple[str, str, str], list[str]],
    snapshot: Snapshot,
) -> Variant:
    ns, spec = va.metadata.namespace, va.spec
    ref = spec.scale_target_ref
    target = _find_target(va, targets)
    status = va.status
    prev = status.desired_optimized_alloc.num_replicas if status and status.desired_optimized_alloc else 0
    cost = parse_cost(spec.variant_cost)
    v = Variant(
        va=va,
        namespace=ns,
        name=va.metadata.name,
        model_id=spec.model_id,
        accelerator=_accelerator(va, target),
        cost=cost if cost is not None else DEFAULT_COST_VALUE,
        priority=spec.priority,
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        previous_desired=prev,
    )
    owners = ref_owners[(ns, ref.kind, ref.name)]
    if len(owners) > 1:
        others = ", ".join(sorted(o for o in owners if o != v.name))
        v.holds.append(
            Hold(
                "TargetConflict",
                Reason.TARGET_CONFLICT,
                f"{ref.kind}/{ref.name} is also targeted by {others}",
            )
        )
    for problem in _spec_problems(va):
        v.holds.append(Hold("OptimizationReady", Reason.INVALID_CONFIGURATION, problem))
    if target is None:
        v.holds.append(
            Hold(
                "TargetResolved",
                Reason.TARGET_NOT_FOUND,
                f"scale target {ref.kind}/{ref.name} not found",
            )
        )
        return v
    v.target_found = True
    v.current = target.status_replicas if target.status_replicas > 0 else max(target.spec_replicas or 0, 0)
    v.ready = max(target.ready_replicas, 0)
    v.pending = max(0, v.current - v.ready)
    v.gpus_per_replica = max(target.gpus_per_replica, 1)
    v.vllm_args = tuple(target.vllm_args)
    if not v.accelerator:
        v.holds.append(
            Hold(
                "OptimizationReady",
                Reason.MISSING_ACCELERATOR,
                f"no {ACCELERATOR_LABEL} label and no <vendor>/gpu.product node selector on the target",
            )
        )
    _attach_signals(v, pods_by_target.get((ns, target.name), []), metrics_by_pod, spec.model_id, snapshot.now)
    if v.signals and snapshot.metrics_warnings:
        v.metrics_warnings = tuple(sorted(set(snapshot.metrics_warnings)))
    return v


def _attach_signals(
    v: Variant,
    pods: Sequence[Pod],
    metrics_by_pod: dict[tuple[str, str], list[PodMetrics]],
    model_id: str,
    now: datetime,
) -> None:
    """Live pods of the target only: a series whose pod is not listed (deleted, foreign) never counts. A Ready
    pod past the grace with no row at all is named in `unreported_pods`."""
    unreported: list[str] = []
    for pod in sorted(pods, key=lambda p: p.name):
        rows = [r for r in metrics_by_pod.get((pod.namespace, pod.name), ()) if r.model_name == model_id]
        if not rows:
            if pod.ready and (pod.ready_at is None or (now - pod.ready_at).total_seconds() > NEW_POD_GRACE_S):
                unreported.append(pod.name)
            continue
        fresh = [r for r in rows if not r.stale]
        if rows and not fresh:
            v.stale_pods += 1
            continue
        signals = [s for s in (_clean(r) for r in fresh) if s is not None]
        if signals:
            v.signals.append(_merge(signals))
    v.unreported_pods = tuple(unreported)


def _merge(signals: Iterable[PodSignal]) -> PodSignal:
    """Several rows for one pod (duplicate series): take the worst case of each signal."""
    items = list(signals)
    if len(items) == 1:
        return items[0]
    first = items[0]
    return PodSignal(
        pod=first.pod,
        kv=max(s.kv for s in items),
        queue=max(s.queue for s in items),
        total_kv_tokens=max(s.total_kv_tokens for s in items),
        avg_in=max(s.avg_in for s in items),
        avg_out=max(s.avg_out for s in items),
        arrival_rate=first.arrival_rate,
        running=first.running,
    )
