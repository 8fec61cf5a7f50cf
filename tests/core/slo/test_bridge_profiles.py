"""Built-in profiles, `wva-slo-profiles` overrides, and the bridge from a snapshot's variants to analyzer inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wva_ray.api.service_class import ResolvedTarget, parse_perf_profiles
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.analyzers.slo.analyzer import SloModelState, SloSettings, analyze_slo
from wva_ray.core.analyzers.slo.bridge import model_inputs
from wva_ray.core.analyzers.slo.profiles import profile_for
from wva_ray.core.variants import build_variants

OVERRIDE = {
    "my-gpu": {
        "modelID": "acme/chat-7b",
        "accelerator": "L4",
        "alphaMs": 40,
        "betaMs": 0.05,
        "gammaMsPer1kKv": 0.2,
        "prefillTokensPerS": 4000,
        "maxNumSeqs": 128,
        "kvCapacityTokens": 30000,
        "startupSeconds": 120,
    }
}


@pytest.mark.parametrize(
    ("model", "accelerator", "alpha"),
    [
        pytest.param("meta-llama/Llama-3.1-8B-Instruct", "H100", 7.4, id="8b-h100"),
        pytest.param("llama-3.1-8b", "L40S", 28.8, id="8b-l40s"),
        pytest.param("meta-llama/Llama-3.1-70B-Instruct", "A100", 30.0, id="70b-a100"),
        pytest.param("acme/chat-7b", "L4", 40.0, id="override"),
        pytest.param("acme/chat-7b", "H100", None, id="unknown"),
    ],
)
def test_profile_lookup(model: str, accelerator: str, alpha: float | None) -> None:
    entries, warnings = parse_perf_profiles(OVERRIDE)
    assert warnings == ()
    got = profile_for(model, accelerator, entries)
    assert (got.params.alpha_ms if got else None) == alpha


def test_override_errors_name_key_path() -> None:
    _, warnings = parse_perf_profiles({"bad": {**OVERRIDE["my-gpu"], "alphaMs": -1}, "worse": "[1]"})
    assert any(w.startswith("bad.alphaMs") for w in warnings)
    assert any(w.startswith("worse: expected a mapping") for w in warnings)


def _snapshot() -> Snapshot:
    vas, targets, pods, metrics = [], [], [], []
    for acc, n in (("H100", 2), ("L4", 1)):
        name = f"m-{acc.lower()}"
        vas.append(
            {
                "metadata": {
                    "name": name,
                    "namespace": "llm",
                    "labels": {"inference.optimization/acceleratorName": acc},
                },
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": name}, "modelID": "meta-llama/Llama-3.1-8B"},
            }
        )
        targets.append({"namespace": "llm", "name": name, "specReplicas": n, "statusReplicas": n, "readyReplicas": n})
        for i in range(n):
            pods.append({"namespace": "llm", "name": f"{name}-{i}", "target": name})
            metrics.append(
                {
                    "namespace": "llm",
                    "modelName": "meta-llama/Llama-3.1-8B",
                    "pod": f"{name}-{i}",
                    "kvCacheUsage": 0.4,
                    "queueLength": 1,
                    "avgInputTokens": 1000,
                    "avgOutputTokens": 200,
                    "arrivalRate": 15.0,
                    "running": 50,
                }
            )
    return Snapshot.model_validate(
        {
            "now": "2026-11-27T12:00:00Z",
            "variantAutoscalings": vas,
            "scaleTargets": targets,
            "pods": pods,
            "metrics": metrics,
        }
    )


def test_bridge_builds_inputs_and_leaves_out_unprofiled_variants() -> None:
    variants = build_variants(_snapshot())
    target = ResolvedTarget("Default", 100, 50.0, 1000.0, "test")
    inp, unsized = model_inputs(variants, target, saturation_targets={"llm/m-h100": 3})
    assert [v.key for v in unsized] == ["llm/m-l4"]
    (h100,) = inp.variants
    assert h100.completions_per_s == pytest.approx(30.0)
    assert h100.waiting == pytest.approx(2.0)
    assert h100.avg_input_tokens == pytest.approx(1000.0)
    assert h100.saturation_target == 3
    res = analyze_slo(inp, SloModelState(), SloSettings(), datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp())
    assert res.targets["llm/m-h100"] >= 2
