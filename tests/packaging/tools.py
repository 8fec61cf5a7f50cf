"""Real tools the packaging tests drive: helm, kubectl and promtool (test helper; process and file I/O).

helm comes from scripts/setup.d/30-helm.sh (``$WVA_RAY_CACHE/helm/helm``, or ``$WVA_HELM``); kubectl is
``$WVA_KUBECTL``, else the 1.20.2 client of scripts/setup.d/25-kubectl.sh (``$WVA_RAY_CACHE/kubectl``), else
the system one, else the 1.32 client cached beside helm; promtool comes with Debian's
prometheus (scripts/setup.d/10-prometheus.sh).
Every call is bounded in time and returns or raises with the tool's own error text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "wva-ray"
OPERATOR = REPO / "operator"
CACHE_ROOT = Path(os.environ.get("WVA_RAY_CACHE", str(Path.home() / ".cache" / "wva-ray")))
TIMEOUT_S = 60.0

Doc = dict[str, Any]


class ToolMissing(RuntimeError):
    """A tool the packaging tests need is not installed; the message says which setup script installs it."""


def helm_binary() -> Path:
    override = os.environ.get("WVA_HELM")
    path = Path(override) if override else CACHE_ROOT / "helm" / "helm"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolMissing(f"helm not found at {path} (WVA_HELM={override!r}): run scripts/setup.d/30-helm.sh")
    return path


def system_tool(name: str, installer: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(f"{name} not on PATH: run {installer}")
    return Path(found)


@dataclass(frozen=True)
class Run:
    """The outcome of one tool invocation."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


def run(argv: Sequence[str | Path], timeout_s: float = TIMEOUT_S, env: Mapping[str, str] | None = None) -> Run:
    args = tuple(str(a) for a in argv)
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, env=full_env, check=False)
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


def helm(*args: str | Path) -> Run:
    # HELM_* dirs in a temp location: no repository config or cache from the user's home is read or written.
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        env = {
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_DATA_HOME": f"{home}/data",
        }
        return run([helm_binary(), *args], env=env)


def _values_args(values: Mapping[str, Any] | None, workdir: Path) -> list[str]:
    if not values:
        return []
    path = workdir / "values.yaml"
    path.write_text(yaml.safe_dump(dict(values), sort_keys=False))
    return ["-f", str(path)]


def helm_template(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "wva",
    namespace: str = "wva-system",
    kube_version: str | None = None,
    chart: Path = CHART,
) -> Run:
    with tempfile.TemporaryDirectory(prefix="helm-values-") as tmp:
        args = ["template", release, str(chart), "--namespace", namespace, *_values_args(values, Path(tmp))]
        if kube_version:
            args += ["--kube-version", kube_version]
        return helm(*args)


def render(values: Mapping[str, Any] | None = None, **kwargs: Any) -> list[Doc]:
    """`helm template` parsed into documents; raises AssertionError with helm's output when it fails."""
    result = helm_template(values, **kwargs)
    if not result.ok:
        raise AssertionError(f"helm template failed:\n{result.describe()}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def helm_lint(values: Mapping[str, Any] | None = None, *, kube_version: str | None = None) -> Run:
    with tempfile.TemporaryDirectory(prefix="helm-values-") as tmp:
        args = ["lint", "--strict", str(CHART), *_values_args(values, Path(tmp))]
        if kube_version:
            args += ["--kube-version", kube_version]
        return helm(*args)


def by_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: Iterable[Doc], kind: str) -> Doc:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected exactly one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def kubectl_binary() -> Path:
    """$WVA_KUBECTL, else the 1.20.2 kubectl of scripts/setup.d/25-kubectl.sh (within the local API server's
    version skew), else kubectl on PATH, else the one scripts/setup.d/30-helm.sh caches beside helm."""
    override = os.environ.get("WVA_KUBECTL")
    if override:
        return Path(override)
    skewed = CACHE_ROOT / "kubectl"
    if skewed.is_file() and os.access(skewed, os.X_OK):
        return skewed
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    cached = CACHE_ROOT / "helm" / "kubectl"
    if cached.is_file():
        return cached
    raise ToolMissing(f"kubectl not on PATH nor at {cached}: run scripts/setup.d/30-helm.sh")


def kubectl(kubeconfig: Path, *args: str | Path) -> Run:
    return run([kubectl_binary(), "--kubeconfig", kubeconfig, *args])


def dry_run_server(kubeconfig: Path, docs: Sequence[Doc], workdir: Path) -> Run:
    """`kubectl apply --dry-run=server` of `docs` (kubectl also validates them against the server's OpenAPI)."""
    path = workdir / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return kubectl(kubeconfig, "apply", "--dry-run=server", "-f", path)


def promql_check(exprs: Mapping[str, str], workdir: Path) -> Run:
    """`promtool check rules` over one recording rule per expression: parses every PromQL expression.

    The keys only label the expressions in the rules file (as comments would); promtool names the failing one.
    """
    rules = [
        {"record": f"wva_check:expr_{i}", "expr": expr, "labels": {"source": name}}
        for i, (name, expr) in enumerate(exprs.items())
    ]
    path = workdir / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}, sort_keys=False))
    return run([system_tool("promtool", "scripts/setup.d/10-prometheus.sh"), "check", "rules", path])


BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "rbac.authorization.k8s.io",
        "autoscaling",
        "policy",
        "batch",
        "coordination.k8s.io",
        "networking.k8s.io",
    }
)


def api_group(doc: Doc) -> str:
    api_version = str(doc["apiVersion"])
    return api_version.split("/")[0] if "/" in api_version else ""


def is_builtin(doc: Doc) -> bool:
    """A kind every Kubernetes API server serves (as opposed to CRDs: KubeRay, Prometheus Operator, KEDA, ours)."""
    return api_group(doc) in BUILTIN_GROUPS
