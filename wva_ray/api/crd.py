"""Renders the VariantAutoscaling CustomResourceDefinition from the API models. Pure (returns data).

The schema is derived from `VariantAutoscalingSpec` / `VariantAutoscalingStatus` (their JSON schema, $refs
inlined, made structural), then the value rules the models declare for the CRD only (`json_schema_extra`) stay
in the schema so the API server enforces them. Only upstream's default (`variantCost: "10.0"`) is kept as a
server-side default: our own optional fields get no default so that stored upstream objects are not rewritten.
`crds/llmd.ai_variantautoscalings.yaml` is this output; a test fails when they drift apart.
"""

from __future__ import annotations

from typing import Any

import yaml

from wva_ray.api.va import (
    DEFAULT_COST,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAME,
    SINGULAR,
    VERSION,
    VariantAutoscalingSpec,
    VariantAutoscalingStatus,
)

_DROP = {"title", "default", "description"}
_KEEP_DEFAULTS = {("spec", "variantCost"): DEFAULT_COST}

_CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "metav1.Condition",
    "required": ["lastTransitionTime", "message", "reason", "status", "type"],
    "properties": {
        "type": {"type": "string", "maxLength": 316},
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {"type": "string", "maxLength": 1024},
        "message": {"type": "string", "maxLength": 32768},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
    },
}

_DESCRIPTIONS = {
    ("spec",): "Which workload serves one model on one accelerator, and at what cost.",
    ("spec", "scaleTargetRef"): "The workload to scale: any kind with a scale subresource.",
    ("spec", "modelID"): "Must equal the vLLM Prometheus label model_name; the grouping key.",
    ("spec", "variantCost"): "Cost per replica (a decimal number as a string).",
    ("spec", "minReplicas"): "wva-ray: per-variant floor; unset = model-level rules.",
    ("spec", "maxReplicas"): "wva-ray: per-variant ceiling; unset = none.",
    ("spec", "priority"): "wva-ray: order in global GPU allocation, 0..1000, lower is more important (100 if unset).",
    ("status", "desiredOptimizedAlloc"): "The decision: replicas wanted on the accelerator.",
    ("status", "desiredOptimizedAlloc", "sinceTime"): "wva-ray: when numReplicas first took its current value.",
    ("status", "actuation"): "Whether the desired count has been published (and, in direct mode, applied).",
}


def _inline(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _inline(defs[schema["$ref"].split("/")[-1]], defs)
    out: dict[str, Any] = {}
    if "anyOf" in schema:  # Optional[X]: X (absence, not null, means unset)
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        merged = _inline(options[0], defs)
        out.update(merged)
        for key, value in schema.items():
            if key not in ("anyOf", *_DROP):
                out[key] = value
        return out
    for key, value in schema.items():
        if key in _DROP or key == "$defs":
            continue
        if key == "properties":
            out[key] = {name: _inline(sub, defs) for name, sub in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _inline(value, defs)
        elif key == "additionalProperties" and value is False:
            continue  # structural schemas prune unknown fields instead
        else:
            out[key] = value
    if out.get("format") == "date-time":
        out["type"] = "string"
    return out


def _model_schema(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _inline(raw, raw.get("$defs", {}))


def _annotate(schema: dict[str, Any], path: tuple[str, ...]) -> None:
    if path in _DESCRIPTIONS:
        schema["description"] = _DESCRIPTIONS[path]
    if path in _KEEP_DEFAULTS:
        schema["default"] = _KEEP_DEFAULTS[path]
    for name, sub in schema.get("properties", {}).items():
        _annotate(sub, (*path, name))


def openapi_schema() -> dict[str, Any]:
    spec = _model_schema(VariantAutoscalingSpec)
    spec["properties"]["scaleTargetRef"]["x-kubernetes-map-type"] = "atomic"
    status = _model_schema(VariantAutoscalingStatus)
    status["properties"]["conditions"] = {
        "type": "array",
        "items": _CONDITION_SCHEMA,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }
    _annotate(spec, ("spec",))
    _annotate(status, ("status",))
    return {
        "type": "object",
        "description": "VariantAutoscaling: one model server variant (one model, one accelerator type, one cost).",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": [SHORT_NAME],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Target", "type": "string", "jsonPath": ".spec.scaleTargetRef.name"},
                        {"name": "Model", "type": "string", "jsonPath": ".spec.modelID"},
                        {
                            "name": "Accelerator",
                            "type": "string",
                            "jsonPath": ".status.desiredOptimizedAlloc.accelerator",
                        },
                        {
                            "name": "Optimized",
                            "type": "string",
                            "jsonPath": ".status.desiredOptimizedAlloc.numReplicas",
                        },
                        {
                            "name": "MetricsReady",
                            "type": "string",
                            "jsonPath": ".status.conditions[?(@.type=='MetricsAvailable')].status",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def crd_yaml() -> str:
    header = "# Generated by `wva-ray crd` from wva_ray/api (do not edit by hand).\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=120)
