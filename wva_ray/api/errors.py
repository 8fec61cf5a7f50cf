"""Human-readable validation errors: one line naming the key path, what was expected and what was found. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


def key_path(loc: Sequence[int | str]) -> str:
    """`('variantAutoscalings', 0, 'spec', 'modelID')` -> `variantAutoscalings[0].spec.modelID`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe_input(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def describe(err: ValidationError) -> str:
    """The first error of `err` as one line; the count of further errors is appended."""
    errors = err.errors(include_url=False)
    first = errors[0]
    loc = [p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    path = key_path(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        line = f"{path}: unknown key"
    elif kind == "missing":
        line = f"{path}: required key is missing"
    else:
        line = f"{path}: {first['msg']} (got {_describe_input(first.get('input'))})"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more errors)"
    return line
