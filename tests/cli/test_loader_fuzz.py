"""The snapshot loader fed random JSON only ever exits 0 or 2, never with a traceback."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.core.builders import V, snapshot_dict
from wva_ray.cli import app

runner = CliRunner()

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


def _mutate(data: Any, rng: random.Random, value: Any) -> Any:
    """Replace one random node of a valid snapshot with `value` (structure-aware fuzzing)."""
    if isinstance(data, dict) and data:
        key = rng.choice(sorted(data))
        if rng.random() < 0.3:
            return {**data, key: value}
        return {**data, key: _mutate(data[key], rng, value)}
    if isinstance(data, list) and data:
        i = rng.randrange(len(data))
        out = list(data)
        out[i] = value if rng.random() < 0.3 else _mutate(data[i], rng, value)
        return out
    return value


def _invoke(tmp: Path, text: str) -> None:
    path = tmp / "s.json"
    path.write_text(text)
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values)
def test_random_json(tmp_path: Path, doc: Any) -> None:
    _invoke(tmp_path, json.dumps(doc))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), value=json_values)
def test_mutated_valid_snapshot(tmp_path: Path, seed: int, value: Any) -> None:
    base = snapshot_dict(V("a", [(0.5, 1), (0.7, 2)], kv_tokens=1600, avg_in=10), V("b", [(0.1, 0)], cost="5"))
    _invoke(tmp_path, json.dumps(_mutate(base, random.Random(seed), value)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_random_text(tmp_path: Path, text: str) -> None:
    _invoke(tmp_path, text)
