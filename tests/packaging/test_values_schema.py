"""values.schema.json (and the chart's own `fail` checks) reject bad values with a message naming the key;
good values pass. Every case runs the real `helm template`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.tools import CHART, helm_template

GOOD_VARIANT = {
    "name": "v1",
    "modelID": "m",
    "accelerator": "H100",
    "scaleTargetRef": {"kind": "Deployment", "name": "d"},
}


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        pytest.param({"controller": {"mode": "statefulset"}}, "controller.mode", id="unknown-mode"),
        pytest.param({"controller": {"actuation": "kubectl"}}, "controller.actuation", id="unknown-actuation"),
        pytest.param({"controller": {"interval": "thirty"}}, "controller.interval", id="interval-not-duration"),
        pytest.param({"controller": {"shards": 0}}, "controller.shards", id="zero-shards"),
        pytest.param({"controller": {"metricsPort": 70000}}, "controller.metricsPort", id="port-out-of-range"),
        pytest.param({"controller": {"replicaCount": 2}}, "replicaCount", id="typo-in-controller"),
        pytest.param({"controler": {}}, "controler", id="typo-top-level"),
        pytest.param({"prometheus": {"baseURL": "prometheus:9090"}}, "prometheus.baseURL", id="url-without-scheme"),
        pytest.param({"prometheus": {"baseURL": ""}}, "prometheus.baseURL", id="empty-url"),
        pytest.param(
            {"saturation": {"default": {"kvCacheThreshold": 1.5}}},
            "saturation.default.kvCacheThreshold",
            id="kv-threshold-above-1",
        ),
        pytest.param(
            {"saturation": {"default": {"queueLengthThreshold": -1}}},
            "saturation.default.queueLengthThreshold",
            id="negative-queue-threshold",
        ),
        pytest.param(
            {"saturation": {"default": {"kvCacheTreshold": 0.8}}}, "kvCacheTreshold", id="typo-in-saturation-key"
        ),
        pytest.param(
            {"saturation": {"default": {"analyzerName": "v3"}}},
            "saturation.default.analyzerName",
            id="unknown-analyzer",
        ),
        pytest.param(
            {"saturation": {"default": {"kvCacheThreshold": 0.5, "kvSpareTrigger": 0.6}}},
            "kvCacheThreshold (0.5) must be >= kvSpareTrigger (0.6)",
            id="kv-threshold-below-spare-trigger",
        ),
        pytest.param(
            {"saturation": {"default": {"scaleUpThreshold": 0.6, "scaleDownBoundary": 0.7}}},
            "scaleUpThreshold (0.6) must be > scaleDownBoundary (0.7)",
            id="v2-up-not-above-down",
        ),
        pytest.param(
            {"saturation": {"overrides": {"m": {"kvCacheThreshold": 0.7}}}}, "model_id", id="override-without-model"
        ),
        pytest.param(
            {"scaleToZero": {"default": {"retention_period": "ten minutes"}}},
            "scaleToZero.default.retention_period",
            id="retention-not-duration",
        ),
        pytest.param(
            {"scaleToZero": {"default": {"enable_scale_to_zero": "yes"}}},
            "scaleToZero.default.enable_scale_to_zero",
            id="scale-to-zero-not-bool",
        ),
        pytest.param({"rbac": {"scope": "global"}}, "rbac.scope", id="unknown-rbac-scope"),
        pytest.param(
            {"rbac": {"scope": "namespace"}}, "rbac.scope=namespace needs controller.watchNamespace", id="ns-scope"
        ),
        pytest.param({"variants": [{**GOOD_VARIANT, "modelID": ""}]}, "variants.0.modelID", id="empty-model-id"),
        pytest.param(
            {"variants": [{**GOOD_VARIANT, "variantCost": "ten"}]}, "variants.0.variantCost", id="cost-not-number"
        ),
        pytest.param({"variants": [{**GOOD_VARIANT, "name": "Bad_Name"}]}, "variants.0.name", id="name-not-dns"),
        pytest.param(
            {"variants": [{k: v for k, v in GOOD_VARIANT.items() if k != "accelerator"}]},
            "accelerator",
            id="missing-accelerator",
        ),
        pytest.param(
            {"variants": [{**GOOD_VARIANT, "scaleTargetRef": {"name": "d"}}]}, "kind", id="target-without-kind"
        ),
        pytest.param({"variants": [{**GOOD_VARIANT, "priority": 5000}]}, "variants.0.priority", id="priority-range"),
        pytest.param(
            {"hpa": {"enabled": True, "apiVersion": "autoscaling/v1"}}, "hpa.apiVersion", id="hpa-v1-no-external"
        ),
        pytest.param(
            {"variants": [GOOD_VARIANT], "hpa": {"enabled": True}, "keda": {"enabled": True}},
            "hpa.enabled and keda.enabled are exclusive",
            id="hpa-and-keda",
        ),
        pytest.param({"rayService": {"importPath": "no-colon"}}, "rayService.importPath", id="bad-import-path"),
        pytest.param({"rayService": {"authMode": "none"}}, "rayService.authMode", id="bad-ray-auth"),
        pytest.param({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy", id="bad-pull-policy"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(values: dict[str, Any], needle: str) -> None:
    result = helm_template(values)
    assert not result.ok, f"helm accepted bad values {values}:\n{result.stdout[:2000]}"
    assert needle in result.stderr, result.describe()


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"controller": {"interval": "1m30s"}}, id="compound-duration"),
        pytest.param({"controller": {"interval": "45"}}, id="plain-seconds"),
        pytest.param({"prometheus": {"baseURL": "http://prometheus.monitoring:9090"}}, id="http-url"),
        pytest.param(
            {"saturation": {"default": {"analyzerName": "saturation", "scaleUpThreshold": 0.9}}}, id="v2-analyzer"
        ),
        pytest.param(
            {"saturation": {"overrides": {"m": {"model_id": "a/b", "namespace": "llm", "queueSpareTrigger": 2}}}},
            id="model-override",
        ),
        pytest.param({"variants": [GOOD_VARIANT], "hpa": {"enabled": True, "minReplicas": 0}}, id="hpa-min-zero"),
        pytest.param({"variants": [{**GOOD_VARIANT, "minReplicas": 0, "priority": 0}]}, id="variant-bounds"),
        pytest.param(
            {
                "variants": [GOOD_VARIANT],
                "keda": {"enabled": True, "fallback": {"behavior": "currentReplicasIfHigher"}},
            },
            id="keda-fallback-behavior",
        ),
    ],
)
def test_good_values_pass(values: dict[str, Any]) -> None:
    result = helm_template(values)
    assert result.ok, result.describe()


def test_values_yaml_and_schema_describe_the_same_keys() -> None:
    """Every key of values.yaml is in the schema and every schema property (bar optional ones) is in values.yaml."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def keys(node: dict[str, Any], prefix: str) -> set[str]:
        out: set[str] = set()
        for k, v in node.items():
            out.add(prefix + k)
            if (
                isinstance(v, dict)
                and v
                and k not in {"resources", "behavior", "podSecurityContext", "securityContext"}
            ):
                out |= keys(v, f"{prefix}{k}.")
        return out

    def schema_keys(node: dict[str, Any], prefix: str) -> set[str]:
        out: set[str] = set()
        for k, v in node.get("properties", {}).items():
            out.add(prefix + k)
            if v.get("additionalProperties") is False:
                out |= schema_keys(v, f"{prefix}{k}.")
        return out

    in_values = keys(values, "")
    in_schema = schema_keys(schema, "")
    assert in_values - in_schema == set(), "values.yaml keys the schema does not declare"
    # optional on purpose: saturation fields left out fall back to the built-in defaults; fallback.behavior
    # needs KEDA >= 2.15
    optional = {k for k in in_schema if k.startswith(("saturation.default.", "keda.fallback."))} | {"global"}
    assert in_schema - in_values - optional == set(), "schema properties without a default in values.yaml"


def test_schema_is_closed_at_every_level_we_own() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for key in ("image", "controller", "prometheus", "saturation", "scaleToZero", "rbac", "hpa", "keda", "rayService"):
        assert schema["properties"][key]["additionalProperties"] is False, key


def test_chart_values_file_is_the_schema_default(tmp_path: Path) -> None:
    """values.yaml passed explicitly renders the same as no values at all (no hidden template defaults)."""
    explicit = helm_template(yaml.safe_load((CHART / "values.yaml").read_text()))
    implicit = helm_template(None)
    assert explicit.ok and implicit.ok
    assert explicit.stdout == implicit.stdout


def test_schema_saturation_fields_are_the_api_models_fields() -> None:
    """The chart accepts exactly the ConfigMap keys wva_ray.api.config parses (no more, no fewer)."""
    from wva_ray.api.config import SaturationEntry, ScaleToZeroEntry

    schema = json.loads((CHART / "values.schema.json").read_text())
    sat = schema["properties"]["saturation"]["properties"]
    api_keys = {info.alias or name for name, info in SaturationEntry.model_fields.items()}
    assert set(sat["overrides"]["additionalProperties"]["properties"]) == api_keys
    assert set(sat["default"]["properties"]) == api_keys - {"model_id", "namespace"}
    stz = schema["properties"]["scaleToZero"]["properties"]
    stz_keys = {info.alias or name for name, info in ScaleToZeroEntry.model_fields.items()}
    assert set(stz["overrides"]["additionalProperties"]["properties"]) == stz_keys
    assert set(stz["default"]["properties"]) == stz_keys - {"model_id", "namespace"}
