"""docs/ stays true to the code: links resolve, every setting and metric named exists (and the important ones
are named), every file path mentioned is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.packaging.tools import CHART, REPO
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.settings import UPSTREAM_ENV, env_names

DOCS = REPO / "docs"
OURS = [
    "README.md",
    "install.md",
    "configuration.md",
    "hpa-keda.md",
    "kuberay.md",
    "metrics.md",
    "upgrade.md",
    "troubleshooting.md",
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m[1]) for m in re.finditer(r"^#+ (.*)$", path.read_text(), flags=re.MULTILINE)}


def _settings_env() -> set[str]:
    return set(env_names())


def _exported() -> set[str]:
    names: set[str] = set()
    for family in GaugeExporter(interval_s=30.0).registry.collect():  # the controller hands its interval over
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


@pytest.mark.parametrize("name", OURS)
def test_links_resolve(name: str) -> None:
    path = DOCS / name
    for target in LINK.findall(path.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        assert dest.exists(), f"{name}: link to missing {target}"
        if anchor:
            assert dest.is_file() and anchor in _anchors(dest), f"{name}: no heading #{anchor} in {dest.name}"


@pytest.mark.parametrize("name", OURS)
def test_repository_paths_mentioned_exist(name: str) -> None:
    text = (DOCS / name).read_text()
    for ref in set(re.findall(r"`((?:operator|helm|crds|tests|scripts)/[\w./-]+)`", text)):
        assert (REPO / ref).exists(), f"{name} mentions {ref}, which does not exist"


def test_configuration_names_only_settings_the_runtime_reads() -> None:
    text = (DOCS / "configuration.md").read_text()
    named = set(re.findall(r"`((?:WVA|PROMETHEUS|GLOBAL|CONTROLLER|WATCH|POD|SATURATION|QUEUEING)_[A-Z0-9_]+)`", text))
    known = _settings_env()
    assert named - known == set(), "documented variables nobody reads"
    upstream = set(UPSTREAM_ENV)
    assert upstream - named == set(), "upstream variables missing from docs/configuration.md"


def test_configuration_covers_every_chart_value() -> None:
    text = (DOCS / "configuration.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    opaque = {"resources", "podSecurityContext", "securityContext", "behavior", "default", "fallback", "head"}

    def leaves(node: dict[str, object], prefix: str) -> list[str]:
        out = []
        for key, value in node.items():
            if isinstance(value, dict) and value and key not in opaque:
                out += leaves(value, f"{prefix}{key}.")
            else:
                out.append(prefix + key)
        return out

    missing = []
    for path in leaves(values, ""):
        top, last = path.split(".")[0], path.split(".")[-1]
        if f"`{top}" not in text or not re.search(rf"`[\w.]*{re.escape(last)}`", text):
            missing.append(path)
    assert missing == [], "chart values not described in docs/configuration.md"


def test_metrics_reference_lists_exactly_the_exported_metrics() -> None:
    text = (DOCS / "metrics.md").read_text()
    exported = _exported()
    table_names = set(re.findall(r"^\| `(wva_[a-z_]+)` \|", text, flags=re.MULTILINE))
    assert table_names == exported


def test_troubleshooting_states_the_label_prerequisites() -> None:
    text = (DOCS / "troubleshooting.md").read_text()
    for label in ("namespace", "model_name", "pod"):
        assert re.search(rf"^\| `{label}` \|", text, flags=re.MULTILINE), label


def test_docs_link_to_the_serve_helpers_page() -> None:
    assert (DOCS / "ray-serve.md").is_file()
    for name in ("README.md", "kuberay.md", "install.md"):
        assert "(ray-serve.md)" in (DOCS / name).read_text(), name
