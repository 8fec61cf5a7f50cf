"""docs/architecture.md stays true to the source: it names every package under wva_ray/, every room the diagram
script knows, the import contracts of pyproject.toml, and its generated dependency graph is current."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.packaging.tools import REPO

DOC = REPO / "docs" / "architecture.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture_diagram", REPO / "scripts" / "architecture_diagram.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


@pytest.mark.parametrize("package", SCRIPT.packages())
def test_every_package_is_named(package: str) -> None:
    assert f"`{package}`" in DOC.read_text(), f"docs/architecture.md does not name wva_ray/{package}"


def test_every_module_belongs_to_a_room() -> None:
    orphans = [
        str(p.relative_to(REPO))
        for p in SCRIPT.source_files()
        if SCRIPT.room_of(SCRIPT.module_name(p)) is None and p.name != "__init__.py"
    ]
    assert orphans == [], "modules outside every room of scripts/architecture_diagram.py ROOMS"
    for room in SCRIPT.ROOMS:
        assert f"| `{room.replace('.', '/')}` |" in DOC.read_text(), f"no row for room {room} in the rooms table"


def test_the_generated_graph_is_current() -> None:
    block = SCRIPT.current_block(DOC.read_text())
    assert block is not None, "the generated block markers are missing from docs/architecture.md"
    assert block == SCRIPT.render(SCRIPT.room_graph()), (
        "docs/architecture.md's dependency graph is stale: run python scripts/architecture_diagram.py"
    )


def test_the_graph_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "wva_ray" / "cli"
    src.mkdir(parents=True)
    (tmp_path / "wva_ray" / "__init__.py").write_text("")
    (src / "__init__.py").write_text("def f():\n    from wva_ray.adapters.kube import reader\n")
    graph = SCRIPT.room_graph(tmp_path / "wva_ray")
    assert graph["cli"] == {"adapters.kube"}


def test_the_contracts_are_described() -> None:
    text = DOC.read_text()
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    for contract in config["tool"]["importlinter"]["contracts"]:
        assert f"**{contract['name'].split(':')[0]}**" in text, f"contract {contract['name']!r} not described"
        if contract["type"] == "layers":
            for layer in contract["layers"]:
                for name in layer.split(":"):
                    room = name.strip().removeprefix("wva_ray.")
                    assert f"`{room}`" in text, f"layer {room} of {contract['name']!r} not in the doc"
        for forbidden in contract.get("forbidden_modules", []):
            assert f"`{forbidden}`" in text, f"forbidden module {forbidden} of {contract['name']!r} not in the doc"


@pytest.mark.parametrize("room", ["adapters", "core", "api"])
def test_room_reads_no_environment(room: str) -> None:
    """Settings reach these rooms as typed arguments: only wva_ray/settings.py reads the environment."""
    readers = []
    for path in sorted((REPO / "wva_ray" / room).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert readers == []


def test_doc_links_resolve() -> None:
    for ref in set(re.findall(r"`((?:wva_ray|tests|scripts|docs)/[\w./-]+\.(?:py|md))`", DOC.read_text())):
        assert (REPO / ref).exists(), f"docs/architecture.md mentions {ref}, which does not exist"
