"""The core reads no clock and does no I/O. The import-linter contract forbids the modules (time, os, pathlib, io,
sys, threading, urllib, http, ...); builtins cannot be forbidden that way, so this AST check rejects calls to
`open`, `print` and `input` and clock reads (`datetime.now()`, `date.today()`, ...) in core/ and api/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wva_ray.api
import wva_ray.core

CLOCK_CALLS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}
IO_BUILTINS = {"open", "print", "input", "breakpoint", "exec", "eval", "__import__"}


def _offences(source: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            out.append((node.lineno, f"clock read .{node.func.attr}()"))
        elif isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            out.append((node.lineno, f"builtin {node.func.id}()"))
    return out


def _sources() -> list[Path]:
    return [p for package in (wva_ray.core, wva_ray.api) for p in sorted(Path(package.__path__[0]).rglob("*.py"))]


def test_no_clock_reads_or_io_builtins_in_core_or_api() -> None:
    offenders = [f"{path.name}:{line}: {what}" for path in _sources() for line, what in _offences(path.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("open('x')", id="open"),
        pytest.param("print(1)", id="print"),
        pytest.param("input()", id="input"),
        pytest.param("datetime.now()", id="datetime-now"),
        pytest.param("date.today()", id="date-today"),
    ],
)
def test_the_check_catches(source: str) -> None:
    assert _offences(source)
