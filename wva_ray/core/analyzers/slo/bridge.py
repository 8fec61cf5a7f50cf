"""From the pipeline's `Variant`s (wva_ray.core.variants) to the inputs of analyzer `slo`. Pure.

`model_inputs(variants, target, overrides, saturation_targets)` is what `decide()` calls for a model group whose
merged config says `analyzerName: slo`; variants with no performance profile are left out (returned separately)
and keep the saturation analyzer's target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wva_ray.api.service_class import PerfProfileEntry, ResolvedTarget
from wva_ray.core.analyzers.slo.analyzer import SloModelInput, SloVariantInput
from wva_ray.core.analyzers.slo.profiles import profile_for
from wva_ray.core.variants import Variant


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    if not pairs:
        return None
    total = sum(w for w, _ in pairs)
    if total <= 0:
        return sum(x for _, x in pairs) / len(pairs)
    return sum(w * x for w, x in pairs) / total


def variant_input(v: Variant, overrides: Sequence[PerfProfileEntry], net: int | None) -> SloVariantInput | None:
    prof = profile_for(v.model_id, v.accelerator, overrides)
    if prof is None:
        return None
    rates = [p.arrival_rate for p in v.signals if p.arrival_rate is not None]
    ins = [(p.arrival_rate or 0.0, p.avg_in) for p in v.signals if p.avg_in > 0]
    outs = [(p.arrival_rate or 0.0, p.avg_out) for p in v.signals if p.avg_out >= 1]
    return SloVariantInput(
        key=v.key,
        accelerator=v.accelerator,
        cost_per_replica=v.cost,
        current=v.current,
        ready=v.ready,
        pending=v.pending,
        params=prof.params,
        startup_s=prof.startup_s,
        min_replicas=v.min_replicas,
        max_replicas=v.max_replicas,
        completions_per_s=sum(rates) if rates else None,
        waiting=sum(p.queue for p in v.signals),
        avg_input_tokens=_weighted(ins),
        avg_output_tokens=_weighted(outs),
        saturation_target=net,
    )


def model_inputs(
    variants: Sequence[Variant],
    target: ResolvedTarget,
    overrides: Sequence[PerfProfileEntry] = (),
    saturation_targets: Mapping[str, int] | None = None,
) -> tuple[SloModelInput, tuple[Variant, ...]]:
    """The analyzer input for one model group, and the variants it cannot size (no profile for them)."""
    nets = saturation_targets or {}
    sized: list[SloVariantInput] = []
    unsized: list[Variant] = []
    for v in variants:
        inp = variant_input(v, overrides, nets.get(v.key))
        if inp is None:
            unsized.append(v)
        else:
            sized.append(inp)
    first = variants[0]
    return SloModelInput(first.namespace, first.model_id, target, tuple(sized)), tuple(unsized)
