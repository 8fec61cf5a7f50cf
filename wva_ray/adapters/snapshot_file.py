"""Reads a snapshot JSON file (I/O) into a validated `Snapshot`, or raises `SnapshotError` with one line that
names the file, the key path and the expectation."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from wva_ray.api.errors import describe
from wva_ray.api.snapshot import Snapshot


class SnapshotError(Exception):
    """The snapshot file cannot be read or is invalid; str() is the one-line message."""


def load_snapshot(path: Path) -> Snapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise SnapshotError(f"{path}: no such file") from err
    except (OSError, UnicodeDecodeError) as err:
        raise SnapshotError(f"{path}: cannot read: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SnapshotError(f"{path}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    except RecursionError as err:
        raise SnapshotError(f"{path}: JSON nested too deeply") from err
    if isinstance(data, dict) and "snapshot" in data and "now" not in data:
        data = data["snapshot"]  # an acceptance case file: {"description", "snapshot", "expected"}
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: (top level): expected a JSON object, got {type(data).__name__}")
    try:
        return Snapshot.model_validate(data)
    except ValidationError as err:
        raise SnapshotError(f"{path}: {describe(err)}") from err
    except (ValueError, TypeError, RecursionError) as err:
        raise SnapshotError(f"{path}: invalid snapshot: {err}") from err
