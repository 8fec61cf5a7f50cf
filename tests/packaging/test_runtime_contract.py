"""What the packaged controller expects of the code it runs: the CLI commands the chart and the kind e2e call,
and the Serve application and setting the RayService mode names.

The RayService mode (helm controller.mode=rayservice, operator/kuberay/) needs the Serve application
`wva_ray.runtime.ray_app:app` and the `head_resource` setting (env WVA_HEAD_RESOURCE) that pins the
coordinator to the head; tests/runtime/test_ray_app.py deploys that application with real Serve."""

from __future__ import annotations

import importlib

import pytest
import typer.main
import yaml

from tests.packaging.tools import CHART
from wva_ray.settings import RuntimeSettings, load_settings


def _commands() -> set[str]:
    from wva_ray.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


@pytest.mark.parametrize(
    ("command", "used_by"),
    [
        pytest.param("run", "helm/wva-ray Deployment args and operator/Dockerfile CMD", id="run"),
        pytest.param("emulate", "tests/e2e/kind/manifests/emulator.yaml", id="emulate"),
        pytest.param("crd", "helm/sync-from-repo.sh (crds/ source)", id="crd"),
    ],
)
def test_cli_has_the_commands_the_packaging_calls(command: str, used_by: str) -> None:
    assert command in _commands(), f"`wva-ray {command}` is not wired into wva_ray/cli/ (used by {used_by})"


def test_rayservice_import_path_is_importable() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    module_name, _, attr = values["rayService"]["importPath"].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        pytest.fail(f"rayService.importPath {module_name}:{attr}: {exc}")
    assert hasattr(module, attr), f"{module_name} has no {attr}"


def test_runtime_reads_the_head_resource_setting() -> None:
    assert "head_resource" in RuntimeSettings.model_fields, (
        "RayService mode sets WVA_HEAD_RESOURCE (custom Ray resource only the head has) so the coordinator is "
        "pinned to the head; RuntimeSettings has no `head_resource` field to read it"
    )
    template = (CHART / "templates" / "rayservice.yaml").read_text()
    assert "WVA_HEAD_RESOURCE:" in template, "the chart no longer passes WVA_HEAD_RESOURCE to the Serve app"
    settings = load_settings(environ={"WVA_HEAD_RESOURCE": "wva-head"})
    assert settings.runtime.head_resource == "wva-head"
