"""The core reads no clock: besides the import-linter contract (no time/os/asyncio/...), no `datetime.now()`."""

from __future__ import annotations

import ast
from pathlib import Path

import wva_ray.api
import wva_ray.core

CLOCK_CALLS = {"now", "utcnow", "today", "fromtimestamp"}


def test_no_clock_reads_in_core_or_api() -> None:
    offenders = []
    for package in (wva_ray.core, wva_ray.api):
        for path in Path(package.__path__[0]).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in CLOCK_CALLS
                ):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
