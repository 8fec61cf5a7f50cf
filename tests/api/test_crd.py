"""crds/ is exactly what the models render; the schema is structural and keeps upstream VAs valid."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml

from tests.conftest import REPO_ROOT
from wva_ray.api.crd import crd, crd_yaml

CRD_FILE = REPO_ROOT / "crds" / "llmd.ai_variantautoscalings.yaml"


def test_crds_folder_matches_models() -> None:
    assert CRD_FILE.read_text() == crd_yaml(), (
        "crds/ drifted from wva_ray/api: run `wva-ray crd > " + str(CRD_FILE.relative_to(REPO_ROOT)) + "`"
    )


def test_wva_ray_crd_command_prints_the_file() -> None:
    out = subprocess.run([sys.executable, "-m", "wva_ray", "crd"], capture_output=True, text=True, check=True)
    assert out.stdout == CRD_FILE.read_text()


def _walk(schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths that break structural-schema rules: every node typed, no $ref/anyOf/nullable-only nodes."""
    bad = []
    if "type" not in schema and not schema.get("x-kubernetes-int-or-string"):
        bad.append(path or "/")
    for forbidden in ("$ref", "anyOf", "allOf", "oneOf", "additionalProperties"):
        if forbidden in schema and not isinstance(schema.get(forbidden), dict):
            bad.append(f"{path}/{forbidden}")
        if forbidden in ("$ref", "anyOf", "oneOf", "allOf") and forbidden in schema:
            bad.append(f"{path}/{forbidden}")
    for name, sub in schema.get("properties", {}).items():
        bad += _walk(sub, f"{path}/{name}")
    if "items" in schema:
        bad += _walk(schema["items"], f"{path}[]")
    return bad


def test_schema_is_structural() -> None:
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []


def test_upstream_shape_and_ours() -> None:
    doc = yaml.safe_load(CRD_FILE.read_text())
    version = doc["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert doc["spec"]["names"]["shortNames"] == ["va"] and doc["spec"]["scope"] == "Namespaced"
    assert version["subresources"] == {"status": {}}
    assert spec["required"] == ["scaleTargetRef", "modelID"]  # nothing else is required: upstream VAs stay valid
    assert spec["properties"]["variantCost"] == {
        "pattern": r"^\d+(\.\d+)?$",
        "type": "string",
        "description": "Cost per replica (a decimal number as a string).",
        "default": "10.0",
    }
    assert spec["properties"]["scaleTargetRef"]["required"] == ["kind", "name"]
    for ours in ("minReplicas", "maxReplicas", "priority"):
        assert "default" not in spec["properties"][ours]
    cols = [c["name"] for c in version["additionalPrinterColumns"]]
    assert cols == ["Target", "Model", "Accelerator", "Optimized", "MetricsReady", "Age"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["desiredOptimizedAlloc"]["required"] == ["numReplicas", "accelerator"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
