"""Annotation discovery (WVA v0.9): managed HPAs and ScaledObjects -> in-memory VariantAutoscalings. Pure.

Upstream's rules (../shared/spec/reference/upstream-v0.9.md section 1):
- `llm-d.ai/managed: "true"` opts a scaler in; `llm-d.ai/model-id` is required; `llm-d.ai/variant-cost` is a
  decimal >= 0 (default 10.0). A managed scaler with a missing or invalid value is skipped with a reason.
- Replica bounds from the scaler: HPA min = minReplicas (1 if unset), max = maxReplicas; ScaledObject
  min = minReplicaCount (unset = 0), max = maxReplicaCount (unset = KEDA's 100).
- One variant per target (namespace/kind/name): a ScaledObject beats an HPA, HPAs that KEDA created for a
  ScaledObject are skipped, and (ours, as upstream did while the CRD existed) a VariantAutoscaling beats any
  annotated scaler on the same target.
- Accelerator: the target's nodeSelector, then its required nodeAffinity `In` terms, on the product keys below;
  then the scaler's `inference.optimization/acceleratorName` label; otherwise `unresolved` (still emitted).
The in-memory VA carries the scaler's name, namespace and labels, so gauges, Events, logs and `wva-ray plan` name
the variant after the scaler object, as upstream does.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from wva_ray.api.scaler import (
    DISCOVERED_FROM_ANNOTATION,
    HPA_DEFAULT_MIN_REPLICAS,
    KEDA_DEFAULT_MAX_REPLICAS,
    MODEL_ID_ANNOTATION,
    ROLE_LABEL,
    SCALER_KIND_ANNOTATION,
    SYNTHETIC_LABEL,
    VARIANT_COST_ANNOTATION,
    ScalerObject,
    keda_owner,
)
from wva_ray.api.snapshot import ScaleTarget, Snapshot
from wva_ray.api.va import (
    ACCELERATOR_LABEL,
    COST_PATTERN,
    DEFAULT_COST,
    KIND,
    ObjectMeta,
    ScaleTargetRef,
    VariantAutoscaling,
    VariantAutoscalingSpec,
)
from wva_ray.core.accelerator import normalize_accelerator

# Node label keys that name an accelerator product, in upstream's order, then ours (the VA path's vendors).
ACCELERATOR_KEYS: tuple[str, ...] = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "amd.com/gpu.product-name",
    "habana.ai/product.name",
    "amd.com/gpu.product",
    "intel.com/gpu.product",
)
UNRESOLVED = "unresolved"
DEFAULT_TARGET_KIND = "Deployment"
DEFAULT_TARGET_API_VERSION = "apps/v1"
ROLES = frozenset({"prefill", "decode"})
_COST_RE = re.compile(COST_PATTERN)


@dataclass(frozen=True, slots=True)
class ScalerRef:
    """A managed scaler that passed validation: what it scales and with which bounds."""

    scaler: ScalerObject
    target_api_version: str
    target_kind: str
    target_name: str
    model_id: str
    cost: str
    min_replicas: int
    max_replicas: int

    @property
    def target_key(self) -> tuple[str, str, str]:
        return (self.scaler.metadata.namespace, self.target_kind, self.target_name)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A managed scaler that does not become a variant. `invalid` ones get a Warning Event on the scaler."""

    namespace: str
    name: str
    kind: str
    reason: str
    invalid: bool = False
    quiet: bool = False  # expected and not worth a warning (KEDA's own HPA)

    def message(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} skipped: {self.reason}"


@dataclass(frozen=True, slots=True)
class AttributionMiss:
    namespace: str
    pod: str
    reason: str


@dataclass(frozen=True, slots=True)
class Discovery:
    """What discovery found in one snapshot."""

    variants: tuple[VariantAutoscaling, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    misses: tuple[AttributionMiss, ...] = ()
    warnings: tuple[str, ...] = field(default=())


EMPTY = Discovery()


def _cost(text: str | None) -> str | None:
    """The cost annotation as a VA cost string, or None when it is not a finite decimal >= 0."""
    if text is None:
        return DEFAULT_COST
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    if _COST_RE.match(raw):
        return raw
    return f"{value:.6f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}.0"


def validate(scaler: ScalerObject) -> ScalerRef | Skipped:
    """A managed scaler's variant parameters, or why it is skipped (pure; names the key and value)."""
    meta, spec = scaler.metadata, scaler.spec

    def skip(reason: str) -> Skipped:
        return Skipped(meta.namespace, meta.name, scaler.kind, reason, invalid=True)

    model_id = (meta.annotations.get(MODEL_ID_ANNOTATION) or "").strip()
    if not model_id:
        return skip(f"annotation {MODEL_ID_ANNOTATION} is missing or empty")
    raw_cost = meta.annotations.get(VARIANT_COST_ANNOTATION)
    cost = _cost(raw_cost)
    if cost is None:
        return skip(f"annotation {VARIANT_COST_ANNOTATION} {raw_cost!r} is not a decimal >= 0")
    if scaler.is_scaled_object:
        low = spec.min_replica_count if spec.min_replica_count is not None else 0
        high = spec.max_replica_count if spec.max_replica_count is not None else KEDA_DEFAULT_MAX_REPLICAS
        low_key, high_key = "spec.minReplicaCount", "spec.maxReplicaCount"
    else:
        low = spec.min_replicas if spec.min_replicas is not None else HPA_DEFAULT_MIN_REPLICAS
        if spec.max_replicas is None:
            return skip("spec.maxReplicas is missing")
        high = spec.max_replicas
        low_key, high_key = "spec.minReplicas", "spec.maxReplicas"
    if low < 0:
        return skip(f"{low_key} must be >= 0, got {low}")
    if high < 1:
        return skip(f"{high_key} must be >= 1, got {high}")
    if low > high:
        return skip(f"{low_key} ({low}) > {high_key} ({high})")
    ref = spec.scale_target_ref
    return ScalerRef(
        scaler=scaler,
        target_api_version=ref.api_version or DEFAULT_TARGET_API_VERSION,
        target_kind=ref.kind or DEFAULT_TARGET_KIND,
        target_name=ref.name,
        model_id=model_id,
        cost=cost,
        min_replicas=low,
        max_replicas=high,
    )


def select(scalers: Iterable[ScalerObject], vas: Iterable[VariantAutoscaling]) -> tuple[list[ScalerRef], list[Skipped]]:
    """The managed scalers that become variants (sorted by namespace, name), and the skipped ones with reasons."""
    skipped: list[Skipped] = []
    valid: list[ScalerRef] = []
    for s in sorted(scalers, key=lambda o: (o.metadata.namespace, o.metadata.name, o.kind)):
        if not s.managed:
            continue
        owner = keda_owner(s)
        if owner is not None and not s.is_scaled_object:
            why = f"created by ScaledObject {owner}; the ScaledObject is the variant"
            skipped.append(Skipped(s.metadata.namespace, s.metadata.name, s.kind, why, quiet=True))
            continue
        checked = validate(s)
        if isinstance(checked, Skipped):
            skipped.append(checked)
        else:
            valid.append(checked)
    va_targets: dict[tuple[str, str, str], str] = {}
    va_names: set[tuple[str, str]] = set()
    for va in vas:
        ref = va.spec.scale_target_ref
        va_targets.setdefault((va.metadata.namespace, ref.kind, ref.name), va.metadata.name)
        va_names.add((va.metadata.namespace, va.metadata.name))
    by_target: dict[tuple[str, str, str], list[ScalerRef]] = defaultdict(list)
    for r in valid:
        by_target[r.target_key].append(r)
    chosen: list[ScalerRef] = []
    for key, refs in by_target.items():
        refs.sort(key=lambda r: (not r.scaler.is_scaled_object, r.scaler.metadata.name))
        winner, losers = refs[0], refs[1:]
        for r in losers:
            why = f"{key[1]}/{key[2]} is also scaled by {winner.scaler.describe()} (a ScaledObject beats an HPA)"
            skipped.append(Skipped(r.scaler.metadata.namespace, r.scaler.metadata.name, r.scaler.kind, why))
        meta = winner.scaler.metadata
        va_name = va_targets.get(key)
        if va_name is not None:
            why = f"VariantAutoscaling {key[0]}/{va_name} targets the same {key[1]}/{key[2]} (a VA beats annotations)"
            skipped.append(Skipped(meta.namespace, meta.name, winner.scaler.kind, why))
        elif (meta.namespace, meta.name) in va_names:
            why = f"a VariantAutoscaling named {meta.namespace}/{meta.name} exists (variant names must be unique)"
            skipped.append(Skipped(meta.namespace, meta.name, winner.scaler.kind, why, invalid=True))
        else:
            chosen.append(winner)
    chosen.sort(key=lambda r: (r.scaler.metadata.namespace, r.scaler.metadata.name))
    skipped.sort(key=lambda s: (s.namespace, s.name, s.kind))
    return chosen, skipped


def resolve_accelerator(target: ScaleTarget | None, scaler_labels: Mapping[str, str]) -> tuple[str, str]:
    """(accelerator, where it came from): nodeSelector, nodeAffinity, the scaler's label, else `unresolved`."""
    if target is not None:
        for key in ACCELERATOR_KEYS:
            value = target.node_selector.get(key, "").strip()
            if value:
                return normalize_accelerator(value), f"nodeSelector {key}"
        for key in ACCELERATOR_KEYS:
            values = [v for v in target.node_affinity.get(key, []) if v.strip()]
            if values:
                return normalize_accelerator(values[0]), f"nodeAffinity {key}"
    label = scaler_labels.get(ACCELERATOR_LABEL, "").strip()
    if label:
        return normalize_accelerator(label), f"label {ACCELERATOR_LABEL}"
    return UNRESOLVED, "no accelerator node selector, node affinity or label"


def role_of(target: ScaleTarget | None) -> str:
    """`prefill`, `decode` or `both` from the target's pod-template label `llm-d.ai/role`."""
    value = (target.pod_labels.get(ROLE_LABEL, "") if target is not None else "").strip()
    return value if value in ROLES else "both"


def to_variant(ref: ScalerRef, target: ScaleTarget | None) -> VariantAutoscaling:
    """The in-memory VA of one selected scaler (named after the scaler, carrying its labels)."""
    meta = ref.scaler.metadata
    accelerator, source = resolve_accelerator(target, meta.labels)
    role = role_of(target)
    reason = (
        f"discovered: {ref.scaler.kind} {meta.namespace}/{meta.name} is annotated llm-d.ai/managed=true "
        f"(model {ref.model_id}, cost {ref.cost}, replicas {ref.min_replicas}..{ref.max_replicas}, "
        f"accelerator {accelerator} from {source}, role {role})"
    )
    labels = {**meta.labels, SYNTHETIC_LABEL: "true", ACCELERATOR_LABEL: accelerator, ROLE_LABEL: role}
    return VariantAutoscaling(
        metadata=ObjectMeta(
            name=meta.name,
            namespace=meta.namespace,
            labels=labels,
            annotations={DISCOVERED_FROM_ANNOTATION: reason, SCALER_KIND_ANNOTATION: ref.scaler.kind},
        ),
        spec=VariantAutoscalingSpec(
            scale_target_ref=ScaleTargetRef(
                api_version=ref.target_api_version, kind=ref.target_kind, name=ref.target_name
            ),
            model_id=ref.model_id,
            variant_cost=ref.cost,
            min_replicas=ref.min_replicas,
            max_replicas=ref.max_replicas,
        ),
    )


def misses(snapshot: Snapshot) -> tuple[AttributionMiss, ...]:
    """Live pods the adapter could not map to any managed scaler (`Pod.missReason`)."""
    return tuple(
        AttributionMiss(p.namespace, p.name, p.miss_reason)
        for p in sorted(snapshot.pods, key=lambda p: (p.namespace, p.name))
        if p.miss_reason
    )


def discover(snapshot: Snapshot) -> Discovery:
    """Every managed scaler of the snapshot as an in-memory VA, plus what was skipped and why."""
    missed = misses(snapshot)
    if not snapshot.scalers:
        return Discovery(misses=missed, warnings=tuple(_miss_warning(m) for m in missed))
    chosen, skipped = select(snapshot.scalers, snapshot.variant_autoscalings)
    targets = {(t.namespace, t.kind, t.name): t for t in snapshot.scale_targets}
    variants = tuple(to_variant(r, targets.get(r.target_key)) for r in chosen)
    warnings = [s.message() for s in skipped if not s.quiet] + [_miss_warning(m) for m in missed]
    return Discovery(variants, tuple(skipped), missed, tuple(warnings))


def _miss_warning(m: AttributionMiss) -> str:
    return f"pod {m.namespace}/{m.pod} is not attributed to any managed scaler: {m.reason}"


def expand(snapshot: Snapshot) -> tuple[Snapshot, Discovery]:
    """The snapshot with the discovered VAs appended and `scalers` consumed (so expanding twice is a no-op)."""
    if not snapshot.scalers and not any(p.miss_reason for p in snapshot.pods):
        return snapshot, EMPTY
    found = discover(snapshot)
    vas = [*snapshot.variant_autoscalings, *found.variants]
    return snapshot.model_copy(update={"variant_autoscalings": vas, "scalers": []}), found


def discovered_from(va: VariantAutoscaling) -> tuple[str, str] | None:
    """(scaler kind, reason) of an in-memory VA built here; None for a VariantAutoscaling object."""
    if va.metadata.labels.get(SYNTHETIC_LABEL) != "true":
        return None
    annotations = va.metadata.annotations
    return annotations.get(SCALER_KIND_ANNOTATION, KIND), annotations.get(DISCOVERED_FROM_ANNOTATION, "")


def synthetic_keys(vas: Sequence[VariantAutoscaling]) -> frozenset[str]:
    """Keys (namespace/name) of the in-memory VAs: no VA object exists for them (no status writes)."""
    return frozenset(va.key for va in vas if va.metadata.labels.get(SYNTHETIC_LABEL) == "true")
