"""The chart, KEDA first: `variantSource: annotations` renders annotated ScaledObjects (or HPAs) and no
VariantAutoscaling, and what it renders is what annotation discovery selects."""

from __future__ import annotations

import pytest

from tests.packaging.tools import by_kind, render
from wva_ray.api.scaler import ScalerObject
from wva_ray.core.annotated import select

VARIANTS = [
    {
        "name": "llama-8b-h100",
        "namespace": "llm",
        "modelID": "meta-llama/Llama-3.1-8B-Instruct",
        "accelerator": "H100",
        "variantCost": "12.5",
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama-8b-h100"},
        "maxReplicas": 6,
    }
]


@pytest.mark.parametrize("engine", ["keda", "hpa"])
def test_annotations_mode_renders_discoverable_scalers(engine: str) -> None:
    docs = render({"variants": VARIANTS, "variantSource": "annotations", engine: {"enabled": True}})
    assert by_kind(docs, "VariantAutoscaling") == []
    kind = "ScaledObject" if engine == "keda" else "HorizontalPodAutoscaler"
    (doc,) = by_kind(docs, kind)
    annotations = doc["metadata"]["annotations"]
    assert annotations == {
        "llm-d.ai/managed": "true",
        "llm-d.ai/model-id": "meta-llama/Llama-3.1-8B-Instruct",
        "llm-d.ai/variant-cost": "12.5",
    }
    chosen, skipped = select([ScalerObject.model_validate(doc)], [])
    assert skipped == [] and [c.scaler.metadata.name for c in chosen] == ["llama-8b-h100"]
    assert (chosen[0].model_id, chosen[0].cost, chosen[0].max_replicas) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        "12.5",
        6,
    )


def test_crd_mode_is_unchanged() -> None:
    docs = render({"variants": VARIANTS, "keda": {"enabled": True}})
    assert len(by_kind(docs, "VariantAutoscaling")) == 1
    (so,) = by_kind(docs, "ScaledObject")
    assert "annotations" not in so["metadata"]
