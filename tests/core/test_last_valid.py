"""The last valid version of a ConfigMap entry while the ConfigMap holds an invalid one (core.last_valid)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.builders import V, snapshot
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import SnapshotConfig
from wva_ray.core import decide, propose
from wva_ray.core.config import parse_config, resolve_saturation
from wva_ray.core.last_valid import (
    ConfigKind,
    ConfigMapNames,
    EntryRef,
    LastValid,
    entry_problem,
    keep_last_valid,
)
from wva_ray.core.sharding import ShardResult, finalize_shards, split

NAMES = ConfigMapNames("wva-saturation-scaling-config", "wva-model-scale-to-zero-config", "wva-system")
T0 = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "key", "value", "problem"),
    [
        pytest.param("saturation", "default", "kvCacheThreshold: 0.7\n", None, id="valid"),
        pytest.param("saturation", "default", {"kvSpareTriger": 1}, None, id="unknown-key-is-not-invalid"),
        pytest.param(
            "saturation", "default", "kvCacheThreshold: 7.5\n", "kvCacheThreshold must be in [0,1], got 7.5", id="range"
        ),
        pytest.param(
            "saturation",
            "default",
            {"kvCacheThreshold": "high"},
            "kvCacheThreshold: Input should be a valid number",
            id="wrong-type",
        ),
        pytest.param("saturation", "default", "kvCacheThreshold: [", "not valid YAML", id="bad-yaml"),
        pytest.param("saturation", "default", "- 1\n", "expected a mapping, got list", id="not-a-mapping"),
        pytest.param(
            "saturation",
            "default",
            {"kvCacheThreshold": 0.1, "kvSpareTrigger": 0.2},
            "kvCacheThreshold (0.1) must be >= kvSpareTrigger (0.2)",
            id="both-fields-of-a-rule",
        ),
        pytest.param("saturation", "default", {"kvSpareTrigger": 0.9}, None, id="fails-only-merged-onto-0.8"),
        pytest.param("saturation", "default", {"scaleUpThreshold": 1.5}, None, id="v2-range-needs-the-analyzer"),
        pytest.param(
            "saturation",
            "default",
            {"analyzerName": "saturation", "scaleUpThreshold": 1.5},
            "scaleUpThreshold must be in (0,1], got 1.5",
            id="v2-range-with-analyzer",
        ),
        pytest.param(
            "saturation",
            "default",
            {"analyzers": [{"name": "saturation"}], "scaleUpThreshold": 0.5, "scaleDownBoundary": 0.6},
            "scaleUpThreshold (0.5) must be > scaleDownBoundary (0.6)",
            id="v09-analyzers-list-implies-v2",
        ),
        pytest.param(
            "saturation", "o", {"kvSpareTrigger": 0.2}, "override entry has no model_id", id="override-without-model"
        ),
        pytest.param("saturation", "m1#llm", {"kvSpareTrigger": 0.2}, None, id="v09-override-key-names-the-model"),
        pytest.param(
            "scaleToZero", "default", {"enable_scale_to_zero": True, "retention_period": "5m"}, None, id="stz"
        ),
        pytest.param("scaleToZero", "default", {"retention_period": "soon"}, "invalid duration 'soon'", id="stz-dur"),
        pytest.param(
            "scaleToZero", "default", {"retention_period": "0s"}, "retention_period must be > 0, got '0s'", id="stz-0"
        ),
        pytest.param(
            "scaleToZero",
            "default",
            {"enable_scale_to_zero": "maybe"},
            "enable_scale_to_zero: Input should be a valid boolean",
            id="stz-type",
        ),
    ],
)
def test_entry_problem_alone(kind: ConfigKind, key: str, value: Any, problem: str | None) -> None:
    found = entry_problem(kind, key, value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


GOOD, GOOD2, BAD, BAD2 = "kvCacheThreshold: 0.7\n", "kvCacheThreshold: 0.9\n", "kvCacheThreshold: 7.5\n", "x: ["
GLOBAL = EntryRef("", "saturation", "default")
LOCAL = EntryRef("llm", "saturation", "default")
STZ = EntryRef("", "scaleToZero", "default")
STZ_GOOD, STZ_BAD = {"enable_scale_to_zero": True, "retention_period": "5m"}, {"retention_period": "soon"}


NEIGHBOUR = {"model_id": "m2", "queueSpareTrigger": 1}


def _config(ref: EntryRef, value: Any) -> SnapshotConfig:
    """A config with `value` at `ref` (None: the key absent) beside a global override that is always valid."""
    maps: dict[str, dict[str, Any]] = {"saturation": {}, "scaleToZero": {}}
    maps[ref.kind] = {} if value is None else {ref.key: value}
    if ref.namespace:
        return SnapshotConfig.model_validate({"saturation": {"o": NEIGHBOUR}, "namespaces": {ref.namespace: maps}})
    return SnapshotConfig.model_validate({**maps, "saturation": {"o": NEIGHBOUR, **maps["saturation"]}})


def _value(cfg: SnapshotConfig, ref: EntryRef) -> Any:
    scope = cfg.namespaces.get(ref.namespace) if ref.namespace else cfg
    if scope is None:
        return None
    return (scope.saturation if ref.kind == "saturation" else scope.scale_to_zero).get(ref.key)


def _run(ref: EntryRef, values: list[Any]) -> list[tuple[Any, tuple[str, ...]]]:
    """Each cycle (a minute apart): the value decided with and the notes."""
    memory, out = LastValid(), []
    for i, value in enumerate(values):
        kept = keep_last_valid(_config(ref, value), memory, T0 + timedelta(minutes=i), NAMES)
        memory = kept.memory
        assert kept.config.kept_entries == list(kept.notes)
        assert kept.config.saturation["o"] == NEIGHBOUR  # the other entries as read
        out.append((_value(kept.config, ref), kept.notes))
    return out


KEPT_GLOBAL = (
    "config.saturation.default: kept the last valid entry of wva-system/wva-saturation-scaling-config.default"
    " since 2026-12-07T19:01:00Z: kvCacheThreshold must be in [0,1], got 7.5"
)


@pytest.mark.parametrize(
    ("ref", "values", "expected"),
    [
        pytest.param(
            GLOBAL,
            [GOOD, BAD, BAD, GOOD2],
            [(GOOD, ()), (GOOD, (KEPT_GLOBAL,)), (GOOD, (KEPT_GLOBAL,)), (GOOD2, ())],
            id="kept-while-invalid-then-the-fix-applies",
        ),
        pytest.param(GLOBAL, [BAD, GOOD], [(BAD, ()), (GOOD, ())], id="never-valid-is-used-as-is"),
        pytest.param(GLOBAL, [GOOD, None, BAD], [(GOOD, ()), (None, ()), (BAD, ())], id="a-deletion-forgets"),
        pytest.param(
            GLOBAL,
            [GOOD, BAD, BAD2],
            [
                (GOOD, ()),
                (GOOD, (KEPT_GLOBAL,)),
                (
                    GOOD,
                    (
                        "config.saturation.default: kept the last valid entry of"
                        " wva-system/wva-saturation-scaling-config.default since 2026-12-07T19:01:00Z:"
                        " not valid YAML: while parsing a flow node",
                    ),
                ),
            ],
            id="another-invalid-edit-keeps-the-first-time",
        ),
        pytest.param(
            LOCAL,
            [GOOD, BAD],
            [
                (GOOD, ()),
                (
                    GOOD,
                    (
                        "config.namespaces.llm.saturation.default: kept the last valid entry of"
                        " llm/wva-saturation-scaling-config.default since 2026-12-07T19:01:00Z:"
                        " kvCacheThreshold must be in [0,1], got 7.5",
                    ),
                ),
            ],
            id="namespace-local",
        ),
        pytest.param(
            LOCAL,
            [{"kvSpareTrigger": 0.2}, {"kvSpareTrigger": 0.9}],
            [({"kvSpareTrigger": 0.2}, ()), ({"kvSpareTrigger": 0.9}, ())],
            id="invalid-only-merged-is-not-replaced",
        ),
        pytest.param(
            STZ,
            [STZ_GOOD, STZ_BAD],
            [
                (STZ_GOOD, ()),
                (
                    STZ_GOOD,
                    (
                        "config.scaleToZero.default: kept the last valid entry of"
                        " wva-system/wva-model-scale-to-zero-config.default since 2026-12-07T19:01:00Z:"
                        " retention_period: invalid duration 'soon': expected a Go duration such as '10m' or '1h30m'",
                    ),
                ),
            ],
            id="scale-to-zero",
        ),
    ],
)
def test_keep_last_valid(ref: EntryRef, values: list[Any], expected: list[tuple[Any, tuple[str, ...]]]) -> None:
    got = _run(ref, values)
    assert [v for v, _ in got] == [v for v, _ in expected]
    for (_, notes), (_, want) in zip(got, expected, strict=True):
        assert len(notes) == len(want) and all(n.startswith(w) for n, w in zip(notes, want, strict=True)), notes


def test_a_kept_entry_decides_and_is_the_only_warning() -> None:
    first = keep_last_valid(_config(GLOBAL, GOOD), LastValid(), T0, NAMES)
    kept = keep_last_valid(_config(GLOBAL, BAD), first.memory, T0 + timedelta(minutes=1), NAMES)
    parsed = parse_config(kept.config)
    resolved = resolve_saturation(parsed, "llm", "m1")
    assert resolved.settings.kv_cache_threshold == 0.7 and resolved.problems == ()
    assert parsed.warnings == (KEPT_GLOBAL,)
    # without the memory (a fresh reader), as before: the entry is ignored and the built-in applies
    fresh = keep_last_valid(_config(GLOBAL, BAD), LastValid(), T0, NAMES)
    parsed = parse_config(fresh.config)
    resolved = resolve_saturation(parsed, "llm", "m1")
    assert resolved.settings.kv_cache_threshold == 0.8 and "got 7.5" in resolved.problems[0]


def test_nothing_replaced_returns_the_config_as_read() -> None:
    cfg = _config(GLOBAL, GOOD)
    kept = keep_last_valid(cfg, LastValid(), T0, NAMES)
    assert kept.config is cfg and kept.notes == ()


def test_kept_entries_serialise_only_when_present() -> None:
    assert "keptEntries" not in SnapshotConfig().model_dump(by_alias=True)
    cfg = SnapshotConfig(kept_entries=[KEPT_GLOBAL])
    again = SnapshotConfig.model_validate_json(cfg.model_dump_json(by_alias=True))
    assert again.kept_entries == [KEPT_GLOBAL]


VALUES = [GOOD, GOOD2, BAD, BAD2, None]


@given(st.lists(st.sampled_from(VALUES), min_size=1, max_size=12))
def test_the_effective_entry_is_the_latest_valid_one(values: list[Any]) -> None:
    """Model: since the entry was last absent, the latest value valid alone; else the value as read."""
    got = _run(GLOBAL, values)
    latest: Any = None
    for value, (effective, notes) in zip(values, got, strict=True):
        if value is None:
            latest = None
        elif entry_problem("saturation", "default", value) is None:
            latest = value
        want = value if latest is None else latest
        assert effective == want
        assert bool(notes) == (want != value)


def test_every_shard_decides_with_the_kept_entry() -> None:
    """The kept entry travels in the snapshot: each shard's part has it, and the sharded plan sizes as with the
    last valid entry (with the invalid one ignored, the built-in kvCacheThreshold 0.8 would hold at 2)."""
    good, bad = {"default": "kvCacheThreshold: 0.55\n"}, {"default": "kvCacheThreshold: 7.5\n"}
    first = keep_last_valid(SnapshotConfig(saturation=good), LastValid(), T0, NAMES)
    kept = keep_last_valid(SnapshotConfig(saturation=bad), first.memory, T0 + timedelta(minutes=1), NAMES)
    snap = snapshot(*(V(f"v{i}", pods=[(0.5, 0.0), (0.5, 0.0)], model=f"m{i}") for i in range(3)))

    def desired(plan: Plan) -> list[int]:
        return [d.desired_replicas for d in plan.decisions]

    with_kept = snap.model_copy(update={"config": kept.config})
    parts = split(with_kept, 3).values()
    assert sum(1 for p in parts if p.groups) > 1 and all(p.snapshot.config == kept.config for p in parts)
    results = [ShardResult(p.groups, propose(p.snapshot, snap.now) if p.groups else None) for p in parts]
    plan = finalize_shards(with_kept, results, [], snap.now)
    assert desired(plan) == desired(decide(snap.model_copy(update={"config": SnapshotConfig(saturation=good)})))
    assert desired(plan) == [3, 3, 3] and plan.warnings[0] == kept.notes[0]
    ignored = decide(snap.model_copy(update={"config": SnapshotConfig(saturation=bad)}))
    assert desired(ignored) == [2, 2, 2] and "default ignored: kvCacheThreshold" in ignored.warnings[0]
