"""WVA v0.9 configuration keys: parsing errors name the key and the value, and the resolution is pure."""

from __future__ import annotations

import pytest

from wva_ray.api.snapshot import SnapshotConfig
from wva_ray.core.config import parse_config, resolve_saturation, resolve_scale_to_zero
from wva_ray.core.v09_config import override_key, quota_of


def _cfg(default: str, **more: str) -> SnapshotConfig:
    return SnapshotConfig(saturation={"default": default, **more})


@pytest.mark.parametrize(
    ("default", "message"),
    [
        pytest.param(
            "limiters: [{type: quota, quotas: {H100: -2}}]\n", "quotas.H100: -2 is not a GPU count", id="quota"
        ),
        pytest.param("limiters: [{type: budget}]\n", "config.saturation.default.limiters.0.type", id="limiter-type"),
        pytest.param("analyzers: [{score: 1}]\n", "an analyzer needs `type` or `name`", id="analyzer-name"),
        pytest.param("analyzers: [{name: saturation, score: -1}]\n", "analyzers.0.score", id="score"),
        pytest.param("scaleToZero: {enabled: maybe}\n", "scaleToZero.enabled", id="scale-to-zero"),
        pytest.param("priority: -3\n", "config.saturation.default.priority", id="priority"),
    ],
)
def test_invalid_v09_keys_are_reported_with_key_and_value(default: str, message: str) -> None:
    warnings = parse_config(_cfg(default)).warnings
    assert any(message in w and "entry ignored" in w for w in warnings), warnings


def test_analyzers_list_selects_v2_and_folds_parameters_without_overriding_explicit_fields() -> None:
    cfg = parse_config(
        _cfg(
            "analyzers: [{name: saturation, parameters: {kvCacheThreshold: 0.7, scaleUpThreshold: 0.9}}]\n"
            "scaleUpThreshold: 0.8\n"
        )
    )
    s = resolve_saturation(cfg, "ns", "m").settings
    assert (s.analyzer_name, s.kv_cache_threshold, s.scale_up_threshold) == ("saturation", 0.7, 0.8)


def test_override_key_and_an_overrides_analyzers_list_replaces_the_defaults() -> None:
    assert override_key("m1#team-a") == ("m1", "team-a") and override_key("m1-strict") is None
    cfg = parse_config(
        _cfg(
            "analyzers: [{name: saturation, parameters: {kvCacheThreshold: 0.7}}]\n",
            **{"m1#team-a": "analyzers: [{name: saturation, parameters: {kvCacheThreshold: 0.6}}]\n"},
        )
    )
    assert resolve_saturation(cfg, "team-a", "m1").settings.kv_cache_threshold == 0.6
    assert resolve_saturation(cfg, "team-b", "m1").settings.kv_cache_threshold == 0.7


def test_inline_scale_to_zero_wins_over_the_config_map() -> None:
    cfg = SnapshotConfig(
        saturation={"default": "scaleToZero: {enabled: false}\n"},
        scale_to_zero={"default": "enable_scale_to_zero: true\n"},
    )
    assert resolve_scale_to_zero(parse_config(cfg), "ns", "m").enabled is False


def test_quota_semantics_unlimited_deny_and_default() -> None:
    s = resolve_saturation(
        parse_config(
            _cfg(
                "enableLimiter: true\nlimiters:\n- {type: quota, scope: cluster, quotas: {H100: 16, A100: -1}}\n"
                "- {type: quota, scope: namespace, namespaceQuotas: {a: {H100: 2}, default: {H100: 0}}, exclude: [x]}\n"
            )
        ),
        "",
        "",
    ).settings
    q = quota_of(s.limiters)
    assert q is not None
    assert q.limit("a", "H100") == (16.0, 2.0)
    assert q.limit("b", "A100") == (float("inf"), 0.0)  # cluster unlimited; default lists no A100: deny
    assert q.limit("x", "L40S") == (0.0, float("inf"))  # missing from the cluster quota: deny; x excluded


def test_quota_without_enable_limiter_is_reported() -> None:
    warnings = parse_config(_cfg("limiters: [{type: quota, quotas: {H100: 1}}]\n")).warnings
    assert any("a quota needs enableLimiter: true" in w for w in warnings)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        pytest.param(
            {"default": "enableLimiter: true\n", "m1#llm": "limiters: [{type: quota, quotas: {H100: 0}}]\n"},
            "config.saturation.m1#llm.limiters: only the cluster `default` entry's limiters applies",
            id="limiters-on-an-override",
        ),
        pytest.param(
            {"default": "enableLimiter: true\n", "m1#llm": "enableRescale: true\n"},
            "config.saturation.m1#llm.enableRescale: only the cluster `default` entry's enableRescale",
            id="rescale-on-an-override",
        ),
        pytest.param(
            {"default": "analyzers: [{name: throughput, parameters: {window: 5, k: 1}}]\n"},
            "analyzers[0].parameters (k, window): the throughput analyzer takes no parameters",
            id="throughput-parameters",
        ),
    ],
)
def test_v09_keys_that_are_ignored_say_so_with_the_key(entries: dict[str, str], message: str) -> None:
    warnings = parse_config(SnapshotConfig(saturation=entries)).warnings
    assert any(message in w for w in warnings), warnings
    assert not any("needs enableLimiter" in w for w in warnings), warnings  # not the misleading note


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            "analyzers: [{name: saturation, parameters: {kvCacheThreshold: 7.5}}]\n",
            "kvCacheThreshold must be in [0,1], got 7.5 (set by analyzers[0].parameters.kvCacheThreshold)",
            id="range-in-parameters",
        ),
        pytest.param(
            "analyzers: [{name: throughput}, {name: saturation, parameters: {scaleUpThreshold: 0.2}}]\n"
            "scaleDownBoundary: 0.5\n",
            "must be > scaleDownBoundary (0.5) (set by analyzers[1].parameters.scaleUpThreshold)",
            id="order-with-one-side-in-parameters",
        ),
        pytest.param("kvCacheThreshold: 7.5\n", "kvCacheThreshold must be in [0,1], got 7.5", id="top-level-field"),
    ],
)
def test_an_out_of_range_parameter_is_named_by_its_path_in_the_analyzers_list(entry: str, message: str) -> None:
    cfg = parse_config(_cfg("kvCacheThreshold: 0.8\n", **{"m1#team-a": entry}))
    resolved = resolve_saturation(cfg, "team-a", "m1")
    assert resolved.settings.kv_cache_threshold == 0.8  # the bad override is ignored, the default stands
    (problem,) = resolved.problems
    assert message in problem, problem
    if "analyzers" not in entry:
        assert "set by" not in problem
