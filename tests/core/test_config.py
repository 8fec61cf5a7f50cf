"""Configuration merge and validation (wva-behaviour.md 3.1)."""

from __future__ import annotations

import pytest

from wva_ray.api.config import parse_duration_s
from wva_ray.api.snapshot import SnapshotConfig
from wva_ray.core.config import parse_config, resolve_saturation, resolve_scale_to_zero


def settings(cfg: dict[str, object], ns: str = "llm", model: str = "m1") -> tuple[dict[str, object], list[str]]:
    parsed = parse_config(SnapshotConfig.model_validate(cfg))
    r = resolve_saturation(parsed, ns, model)
    return r.settings.model_dump(), [*parsed.warnings, *r.problems]


def test_builtin_defaults_without_any_configmap() -> None:
    s, problems = settings({})
    assert (s["kv_cache_threshold"], s["queue_length_threshold"], s["kv_spare_trigger"], s["queue_spare_trigger"]) == (
        0.8,
        5.0,
        0.1,
        3.0,
    )
    assert problems == []


def test_missing_field_is_not_zero() -> None:
    s, _ = settings({"saturation": {"default": "kvCacheThreshold: 0.9"}})
    assert s["kv_cache_threshold"] == 0.9 and s["queue_length_threshold"] == 5.0


@pytest.mark.parametrize(
    ("cfg", "field", "value"),
    [
        pytest.param({"saturation": {"default": {"kvSpareTrigger": 0.2}}}, "kv_spare_trigger", 0.2, id="global"),
        pytest.param(
            {"saturation": {"default": {"kvSpareTrigger": 0.2}, "o": {"model_id": "m1", "kvSpareTrigger": 0.3}}},
            "kv_spare_trigger",
            0.3,
            id="model-override-beats-default",
        ),
        pytest.param(
            {"saturation": {"o": {"model_id": "m2", "kvSpareTrigger": 0.3}}},
            "kv_spare_trigger",
            0.1,
            id="other-model-override-ignored",
        ),
        pytest.param(
            {
                "saturation": {"default": {"queueSpareTrigger": 1}},
                "namespaces": {"llm": {"saturation": {"default": {"queueSpareTrigger": 2}}}},
            },
            "queue_spare_trigger",
            2.0,
            id="namespace-default-beats-global-default",
        ),
        pytest.param(
            {
                "saturation": {"o": {"model_id": "m1", "queueSpareTrigger": 1}},
                "namespaces": {"llm": {"saturation": {"default": {"queueSpareTrigger": 2}}}},
            },
            "queue_spare_trigger",
            1.0,
            id="global-model-override-beats-namespace-default",
        ),
        pytest.param(
            {
                "saturation": {"o": {"model_id": "m1", "queueSpareTrigger": 1}},
                "namespaces": {"llm": {"saturation": {"o": {"model_id": "m1", "queueSpareTrigger": 0.5}}}},
            },
            "queue_spare_trigger",
            0.5,
            id="namespace-model-override-wins",
        ),
        pytest.param(
            {
                "saturation": {
                    "a": {"model_id": "m1", "namespace": "other", "queueSpareTrigger": 1},
                    "b": {"model_id": "m1", "queueSpareTrigger": 2},
                }
            },
            "queue_spare_trigger",
            2.0,
            id="override-for-other-namespace-ignored",
        ),
        pytest.param(
            {"saturation": {"default": {"kvCacheThreshold": 0.7}, "o": {"model_id": "m1", "kvSpareTrigger": 0.3}}},
            "kv_cache_threshold",
            0.7,
            id="field-by-field-merge",
        ),
    ],
)
def test_merge_order(cfg: dict[str, object], field: str, value: object) -> None:
    assert settings(cfg)[0][field] == value


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        pytest.param({"kvCacheThreshold": 1.5}, "kvCacheThreshold must be in [0,1]", id="kv-range"),
        pytest.param({"queueLengthThreshold": -1}, "queueLengthThreshold must be >= 0", id="queue-negative"),
        pytest.param({"kvCacheThreshold": 0.1, "kvSpareTrigger": 0.2}, "must be >= kvSpareTrigger", id="kv-lt-trig"),
        pytest.param(
            {"analyzerName": "saturation", "scaleUpThreshold": 0.5, "scaleDownBoundary": 0.6},
            "scaleUpThreshold (0.5) must be > scaleDownBoundary (0.6)",
            id="v2-up-le-down",
        ),
        pytest.param({"kvCacheThreshold": "high"}, "kvCacheThreshold", id="wrong-type"),
        pytest.param({"analyzerName": "magic"}, "analyzerName", id="unknown-analyzer"),
    ],
)
def test_invalid_entry_is_ignored_and_named(entry: dict[str, object], problem: str) -> None:
    s, problems = settings({"saturation": {"default": entry}})
    assert s["kv_cache_threshold"] == 0.8  # built-ins still apply
    assert any(problem in p for p in problems), problems


def test_invalid_override_keeps_valid_default() -> None:
    s, problems = settings(
        {"saturation": {"default": {"kvSpareTrigger": 0.2}, "o": {"model_id": "m1", "kvCacheThreshold": 0.1}}}
    )
    assert s["kv_spare_trigger"] == 0.2 and s["kv_cache_threshold"] == 0.8
    assert any("override" in p for p in problems)


def test_bad_yaml_and_unknown_key_are_warnings() -> None:
    _, problems = settings({"saturation": {"default": "kvCacheThreshold: [", "x": "model_id: m1\nkvSpareTriger: 1"}})
    assert any("config.saturation.default: not valid YAML" in p for p in problems)
    assert any("config.saturation.x.kvSpareTriger: unknown key" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("500ms", 0.5), ("2h0m0s", 7200)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10m5", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_s(text)


def test_scale_to_zero_retention_and_bad_value() -> None:
    cfg = parse_config(
        SnapshotConfig.model_validate(
            {
                "scaleToZero": {
                    "default": {"enable_scale_to_zero": True, "retention_period": "15m"},
                    "o": {"model_id": "m1", "retention_period": "soon"},
                }
            }
        )
    )
    r = resolve_scale_to_zero(cfg, "llm", "m1")
    assert r.enabled and r.retention_s == 900 and r.problems
