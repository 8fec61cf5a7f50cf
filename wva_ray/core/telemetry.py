"""What the pipeline did for one variant, as `VariantTelemetry` (the values behind the v0.9 `wva_*` metrics).
Pure: read from the variant, the analyzer's capacity view and the enforcer's note; nothing is invented.

- KV tokens: used = sum over live pods of usage x KV tokens, capacity = sum of KV tokens (pods whose KV geometry
  is unknown add nothing; no pod with geometry: None).
- Utilisation: the mean KV usage of the live pods (upstream's `saturation_utilization`).
- Required / spare: the capacity view of the analyzer that sized the group (role); V2's unit is reported as
  upstream's `continuous`; an analyzer without a capacity view (V1, slo, learned) reports none.
- Freshness per variant: ready pods with a fresh row, with only stale rows, with none; all `unavailable` when the
  metrics source failed.
- Enforcer policy: `scale_to_zero` or `minimum_replicas` when the enforcer's note says it set the target.
"""

from __future__ import annotations

import statistics

from wva_ray.api.plan import VariantTelemetry
from wva_ray.core.analyzers.base import CapacityView
from wva_ray.core.variants import Variant

UNIT_LABELS = {"tokens": "continuous"}  # V2's token capacity is upstream's continuous unit
POLICIES = (("scale-to-zero:", "scale_to_zero"), ("model minimum:", "minimum_replicas"))


def enforcer_policy(note: str) -> str:
    for prefix, policy in POLICIES:
        if note.startswith(prefix):
            return policy
    return ""


def variant_telemetry(
    v: Variant, capacity: CapacityView | None, enforcer_note: str, metrics_failed: bool
) -> VariantTelemetry:
    sized = [p for p in v.signals if p.total_kv_tokens > 0]
    used = sum(p.kv * p.total_kv_tokens for p in sized) if sized else None
    total = float(sum(p.total_kv_tokens for p in sized)) if sized else None
    fresh = 0 if metrics_failed else v.metrics_count
    stale = 0 if metrics_failed else v.stale_pods
    return VariantTelemetry(
        unit=UNIT_LABELS.get(capacity.unit, capacity.unit) if capacity is not None else "",
        required=capacity.required if capacity is not None else None,
        spare=capacity.spare if capacity is not None else None,
        kv_tokens_used=used,
        kv_tokens_capacity=total,
        utilization=statistics.fmean(p.kv for p in v.signals) if v.signals else None,
        enforcer_policy=enforcer_policy(enforcer_note),
        pods_fresh=fresh,
        pods_stale=stale,
        pods_missing=0 if metrics_failed else max(0, v.ready - fresh - stale),
        pods_unavailable=v.ready if metrics_failed else 0,
    )
