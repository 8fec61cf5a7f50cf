"""Annotation discovery, pure (wva_ray.core.annotated): upstream v0.9's rules for managed HPAs and ScaledObjects,
then the whole pipeline on a snapshot that carries scalers instead of VAs."""

from __future__ import annotations

from typing import Any

import pytest

from wva_ray.api.scaler import ScalerObject
from wva_ray.api.snapshot import ScaleTarget, Snapshot
from wva_ray.core.annotated import UNRESOLVED, discover, resolve_accelerator, select, validate
from wva_ray.core.decide import decide

NOW = "2026-11-27T12:00:00Z"


def hpa(
    name: str,
    target: str,
    *,
    ns: str = "llm",
    min_r: int | None = 1,
    max_r: int | None = 10,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    owner: str | None = None,
    version: str = "autoscaling/v2",
) -> dict[str, Any]:
    ann = {"llm-d.ai/managed": "true", "llm-d.ai/model-id": "m1"} if annotations is None else annotations
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}}
    if min_r is not None:
        spec["minReplicas"] = min_r
    if max_r is not None:
        spec["maxReplicas"] = max_r
    meta: dict[str, Any] = {"name": name, "namespace": ns, "annotations": ann, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": owner}]
    return {"apiVersion": version, "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": spec}


def so(
    name: str,
    target: str,
    *,
    ns: str = "llm",
    min_r: int | None = None,
    max_r: int | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    ann = {"llm-d.ai/managed": "true", "llm-d.ai/model-id": "m1"} if annotations is None else annotations
    spec: dict[str, Any] = {"scaleTargetRef": {"name": target}}
    if min_r is not None:
        spec["minReplicaCount"] = min_r
    if max_r is not None:
        spec["maxReplicaCount"] = max_r
    meta = {"name": name, "namespace": ns, "annotations": ann, "labels": labels or {}}
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta, "spec": spec}


def va(name: str, target: str, ns: str = "llm") -> dict[str, Any]:
    return {
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": ns, "labels": {"inference.optimization/acceleratorName": "H100"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": target}, "modelID": "m1"},
    }


def objs(*docs: dict[str, Any]) -> list[ScalerObject]:
    return [ScalerObject.model_validate(d) for d in docs]


@pytest.mark.parametrize(
    ("doc", "bounds"),
    [
        pytest.param(hpa("a", "d"), (1, 10), id="hpa-min-max"),
        pytest.param(hpa("a", "d", min_r=None), (1, 10), id="hpa-min-unset-is-1"),
        pytest.param(so("a", "d"), (0, 100), id="so-unset-is-0-and-keda-default-100"),
        pytest.param(so("a", "d", min_r=2, max_r=4), (2, 4), id="so-min-max"),
    ],
)
def test_replica_bounds_come_from_the_scaler(doc: dict[str, Any], bounds: tuple[int, int]) -> None:
    ref = validate(ScalerObject.model_validate(doc))
    assert not isinstance(ref, str) and hasattr(ref, "min_replicas")
    assert (ref.min_replicas, ref.max_replicas) == bounds  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        pytest.param(hpa("a", "d", annotations={"llm-d.ai/managed": "true"}), "llm-d.ai/model-id", id="no-model"),
        pytest.param(
            hpa(
                "a",
                "d",
                annotations={"llm-d.ai/managed": "true", "llm-d.ai/model-id": "m1", "llm-d.ai/variant-cost": "cheap"},
            ),
            "llm-d.ai/variant-cost 'cheap'",
            id="bad-cost",
        ),
        pytest.param(
            hpa(
                "a",
                "d",
                annotations={"llm-d.ai/managed": "true", "llm-d.ai/model-id": "m1", "llm-d.ai/variant-cost": "-1"},
            ),
            "is not a decimal >= 0",
            id="negative-cost",
        ),
        pytest.param(
            so("a", "d", min_r=5, max_r=2), "spec.minReplicaCount (5) > spec.maxReplicaCount (2)", id="min>max"
        ),
    ],
)
def test_invalid_annotations_are_skipped_with_the_key_and_value(doc: dict[str, Any], why: str) -> None:
    out = validate(ScalerObject.model_validate(doc))
    assert getattr(out, "invalid", False) and why in out.reason  # type: ignore[union-attr]


def test_unmanaged_scalers_are_ignored() -> None:
    chosen, skipped = select(objs(hpa("a", "d", annotations={"llm-d.ai/managed": "yes"})), [])
    assert (chosen, skipped) == ([], [])


def test_scaled_object_beats_hpa_and_kedas_own_hpa_is_skipped_quietly() -> None:
    scalers = objs(
        hpa("user-hpa", "d"),
        so("m1-so", "d"),
        hpa("keda-hpa-m1-so", "d", owner="m1-so"),
    )
    chosen, skipped = select(scalers, [])
    assert [c.scaler.metadata.name for c in chosen] == ["m1-so"]
    reasons = {s.name: (s.quiet, s.reason) for s in skipped}
    assert reasons["keda-hpa-m1-so"][0] is True
    assert "also scaled by ScaledObject llm/m1-so" in reasons["user-hpa"][1]


def test_a_variant_autoscaling_beats_annotations_on_the_same_target() -> None:
    from wva_ray.api.va import VariantAutoscaling

    chosen, skipped = select(
        objs(so("m1-so", "d"), so("other", "e")), [VariantAutoscaling.model_validate(va("v", "d"))]
    )
    assert [c.scaler.metadata.name for c in chosen] == ["other"]
    assert "VariantAutoscaling llm/v targets the same Deployment/d" in skipped[0].reason


@pytest.mark.parametrize(
    ("target", "labels", "expected"),
    [
        pytest.param(
            ScaleTarget(namespace="n", name="d", node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}),
            {"inference.optimization/acceleratorName": "A100"},
            ("H100", "nodeSelector"),
            id="selector-first",
        ),
        pytest.param(
            ScaleTarget(namespace="n", name="d", node_affinity={"cloud.google.com/gke-accelerator": ["nvidia-l4"]}),
            {},
            ("nvidia-l4", "nodeAffinity"),
            id="affinity",
        ),
        pytest.param(
            ScaleTarget(namespace="n", name="d"),
            {"inference.optimization/acceleratorName": "A100"},
            ("A100", "label"),
            id="label-fallback",
        ),
        pytest.param(None, {}, (UNRESOLVED, "no accelerator"), id="unresolved"),
    ],
)
def test_accelerator_resolution_order(
    target: ScaleTarget | None, labels: dict[str, str], expected: tuple[str, str]
) -> None:
    accelerator, source = resolve_accelerator(target, labels)
    assert accelerator == expected[0] and source.startswith(expected[1])


def _snapshot(**extra: Any) -> Snapshot:
    base: dict[str, Any] = {
        "now": NOW,
        "config": {"saturation": {"default": {"analyzerName": "saturation"}}},
        "scaleTargets": [
            {
                "kind": "Deployment",
                "namespace": "llm",
                "name": "m1-dep",
                "specReplicas": 1,
                "statusReplicas": 1,
                "readyReplicas": 1,
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "podLabels": {"llm-d.ai/variant": "m1-so"},
            },
        ],
        "pods": [{"namespace": "llm", "name": "m1-dep-a", "target": "m1-dep"}],
        "metrics": [
            {
                "namespace": "llm",
                "modelName": "m1",
                "pod": "m1-dep-a",
                "kvCacheUsage": 0.95,
                "queueLength": 8,
                "numGpuBlocks": 1000,
                "blockSize": 16,
                "avgInputTokens": 512,
                "avgOutputTokens": 128,
            },
        ],
        "scalers": [so("m1-so", "m1-dep", min_r=1, max_r=10)],
    }
    base.update(extra)
    return Snapshot.model_validate(base)


def test_plan_names_the_variant_after_the_scaler_and_says_why_it_was_found() -> None:
    plan = decide(_snapshot())
    (d,) = plan.decisions
    assert (d.namespace, d.name, d.model_id, d.accelerator) == ("llm", "m1-so", "m1", "H100")
    assert d.desired_replicas > d.current_replicas == 1  # saturated: V2 scales up
    assert d.source is not None and d.source.kind == "ScaledObject"
    assert "llm-d.ai/managed=true" in d.source.reason and "nodeSelector nvidia.com/gpu.product" in d.source.reason
    dumped = d.model_dump(mode="json", by_alias=True)
    assert dumped["source"]["kind"] == "ScaledObject"


def test_a_va_decision_has_no_source_key() -> None:
    snap = _snapshot(scalers=[], variantAutoscalings=[va("v", "m1-dep")])
    (d,) = decide(snap).decisions
    assert d.source is None and "source" not in d.model_dump(mode="json", by_alias=True)


def test_invalid_annotation_is_a_warning_and_the_rest_still_decides() -> None:
    bad = so("bad", "other", annotations={"llm-d.ai/managed": "true"})
    plan = decide(_snapshot(scalers=[so("m1-so", "m1-dep", min_r=1, max_r=10), bad]))
    assert [d.name for d in plan.decisions] == ["m1-so"]
    assert any("ScaledObject llm/bad skipped: annotation llm-d.ai/model-id" in w for w in plan.warnings)


def test_unresolved_accelerator_is_still_emitted() -> None:
    snap = _snapshot()
    target = snap.scale_targets[0].model_copy(update={"node_selector": {}})
    (d,) = decide(snap.model_copy(update={"scale_targets": [target]})).decisions
    assert d.accelerator == UNRESOLVED and d.publish


def test_attribution_misses_become_warnings() -> None:
    pods = [
        {"namespace": "llm", "name": "m1-dep-a", "target": "m1-dep"},
        {"namespace": "llm", "name": "stray", "target": "", "missReason": "variant_label_unknown"},
    ]
    snap = _snapshot(pods=pods)
    found = discover(snap)
    assert [(m.pod, m.reason) for m in found.misses] == [("stray", "variant_label_unknown")]
    assert any("pod llm/stray is not attributed" in w for w in decide(snap).warnings)
