"""The annotated ScaledObject sample (operator/samples/scaledobject-annotated.yaml, KEDA first as llm-d) is a
variant wva-ray discovers on the sample vLLM Deployment, named after the ScaledObject that its trigger queries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from wva_ray.api.snapshot import Snapshot
from wva_ray.core.decide import decide

SAMPLES = Path(__file__).parents[2] / "operator" / "samples"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_the_annotated_scaled_object_sample_is_discovered() -> None:
    so = yaml.safe_load((SAMPLES / "scaledobject-annotated.yaml").read_text())
    dep = yaml.safe_load((SAMPLES / "vllm-deployment.yaml").read_text())
    meta, pod_spec = dep["metadata"], dep["spec"]["template"]["spec"]
    target = {
        "kind": "Deployment",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "specReplicas": 1,
        "statusReplicas": 1,
        "readyReplicas": 1,
        "nodeSelector": pod_spec["nodeSelector"],
    }
    snap = Snapshot.model_validate({"now": NOW.isoformat(), "scalers": [so], "scaleTargets": [target]})
    (d,) = decide(snap, NOW).decisions
    assert (d.namespace, d.name, d.accelerator) == ("llm", "llama-8b-h100", "H100")
    assert d.model_id == so["metadata"]["annotations"]["llm-d.ai/model-id"]
    assert d.source is not None and d.source.kind == "ScaledObject" and "replicas 1..10" in d.source.reason
    (trigger,) = so["spec"]["triggers"]
    assert f'variant_name="{d.name}"' in trigger["metadata"]["query"]
