"""The annotated-scaler part of one ``KubeReader.read()`` (no requests of its own: it reads watch caches and uses
the reader's target resolution, which does a ``/scale`` GET only for a target whose object changed).

Managed scalers are selected by the pure ``wva_ray.core.annotated.select`` (so the reader and ``wva-ray plan``
apply the same precedence), their targets resolved like a VA's, and their pods attributed by
``scalers.attribute_pods``. The snapshot then carries the managed scalers themselves; ``decide`` turns them into
variants, so ``wva-ray plan`` on that snapshot replays discovery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass

from wva_ray.adapters.kube.client import JsonObj
from wva_ray.adapters.kube.cluster_state import ScaleTargetObject
from wva_ray.adapters.kube.objects import pod_start_times
from wva_ray.adapters.kube.scalers import AnnotatedState, ScalerWatches, attribute_pods
from wva_ray.api.snapshot import Pod, ScaleTarget
from wva_ray.api.va import VariantAutoscaling
from wva_ray.core.annotated import select, to_variant


@dataclass
class ReadAccumulator:
    """The reader's per-read maps, filled for VAs first and then here for annotated scalers."""

    targets: MutableMapping[str, ScaleTargetObject]
    errors: MutableMapping[str, str]
    scale_targets: MutableMapping[tuple[str, str, str, str], ScaleTarget]
    pods: MutableMapping[tuple[str, str], Pod]
    target_pods: MutableMapping[str, tuple[str, ...]]


def _name(obj: JsonObj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def read_annotated(
    watches: ScalerWatches,
    vas: Sequence[VariantAutoscaling],
    live_pods: Iterable[JsonObj],
    excluded_namespaces: Iterable[str],
    acc: ReadAccumulator,
    resolve: Callable[[VariantAutoscaling], ScaleTargetObject | str],
    scale_target: Callable[[ScaleTargetObject, Sequence[JsonObj]], ScaleTarget],
    pod_ready: Callable[[JsonObj], bool],
) -> AnnotatedState:
    objects, invalid = watches.objects(excluded_namespaces)
    managed = tuple(o for o in objects if o.managed)
    chosen, skipped = select(managed, vas)
    attribution = attribute_pods(live_pods, chosen, set(acc.pods))
    keys: set[str] = set()
    for ref in chosen:
        va = to_variant(ref, None)
        keys.add(va.key)
        resolved = resolve(va)
        if isinstance(resolved, str):
            acc.errors[va.key] = resolved
            continue
        acc.targets[va.key] = resolved
        selected = attribution.by_target.get(ref.target_key, [])
        acc.target_pods[va.key] = tuple(sorted(_name(p) for p in selected))
        if resolved.key not in acc.scale_targets:
            acc.scale_targets[resolved.key] = scale_target(resolved, selected)
        for p in selected:
            key = (resolved.namespace, _name(p))
            acc.pods.setdefault(
                key,
                Pod(namespace=key[0], name=key[1], target=resolved.name, ready=pod_ready(p), **pod_start_times(p)),
            )
    misses = []
    for p, reason in attribution.misses:
        ns = str((p.get("metadata") or {}).get("namespace", ""))
        key = (ns, _name(p))
        if key not in acc.pods:
            acc.pods[key] = Pod(namespace=ns, name=key[1], target="", ready=True, miss_reason=reason)
            misses.append((ns, key[1], reason))
    return AnnotatedState(managed, tuple(skipped), invalid, tuple(misses), frozenset(keys))
