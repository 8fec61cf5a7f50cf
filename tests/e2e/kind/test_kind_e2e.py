"""The kind end-to-end script (run.sh): linted always; run only where a Docker engine answers.

These CI machines have no container runtime, so the run is skipped there with the reason; the local
control-plane tests (tests/kube, tests/packaging) are what CI runs instead. On a machine with Docker the test
runs the whole script (about 10-15 minutes: cluster, image build, kube-prometheus-stack, scale-up).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "run.sh"
RUN_TIMEOUT_S = 45 * 60


def _docker_engine() -> str | None:
    """Why no Docker engine is reachable, or None when one answers."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        if not Path(path).exists():
            return f"no Docker engine: socket {path} does not exist (DOCKER_HOST={host})"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(path)
        except OSError as exc:
            return f"no Docker engine: cannot connect to {path}: {exc}"
    docker = shutil.which("docker")
    if docker is None:
        return "no Docker engine: the docker CLI is not installed"
    probe = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=20, check=False)
    if probe.returncode != 0:
        return f"no Docker engine: `docker info` failed: {probe.stderr.strip()[:300]}"
    return None


def test_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck missing: run scripts/setup.d/30-helm.sh (it installs it)"
    result = subprocess.run([shellcheck, SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_references_files_that_exist() -> None:
    text = SCRIPT.read_text()
    for rel in (
        "kind-config.yaml",
        "values-kube-prometheus-stack.yaml",
        "values-wva-ray.yaml",
        "manifests/emulator.yaml",
    ):
        assert f"$here/{rel}" in text and (HERE / rel).is_file(), rel
    repo = HERE.parents[2]
    for rel in ("operator/Dockerfile", "operator/samples/prometheus-adapter-values.yaml", "helm/wva-ray"):
        assert f"$repo/{rel}" in text and (repo / rel).exists(), rel


def test_e2e_values_point_the_variant_at_the_emulator() -> None:
    values = yaml.safe_load((HERE / "values-wva-ray.yaml").read_text())
    docs = [d for d in yaml.safe_load_all((HERE / "manifests" / "emulator.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    (variant,) = values["variants"]
    assert variant["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert variant["namespace"] == deployment["metadata"]["namespace"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "emulate"
    assert args[args.index("--model") + 1] == variant["modelID"]
    assert float(args[args.index("--kv-cache-usage") + 1]) >= 0.8, "must saturate at the default kvCacheThreshold"
    assert (
        values["image"]["repository"] + ":" + values["image"]["tag"]
        == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_kind_cluster_scales_up_a_saturated_variant() -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(f"{reason}; run tests/e2e/kind/run.sh on a machine with Docker")
    result = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-6000:])
    assert "PASS:" in result.stdout


def test_e2e_values_render_with_the_chart() -> None:
    from tests.packaging.tools import by_kind, render

    docs = render(yaml.safe_load((HERE / "values-wva-ray.yaml").read_text()), release="wva", kube_version="1.32.0")
    assert [d["metadata"]["name"] for d in by_kind(docs, "Deployment")] == ["wva-wva-ray"], "run.sh waits on it"
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["metadata"]["namespace"] == "e2e-llm"
    assert len(by_kind(docs, "ServiceMonitor")) == 1
