"""Service classes: upstream ConfigMap format, the VA label/annotation, the default class, named errors."""

from __future__ import annotations

import pytest

from wva_ray.api.service_class import (
    BUILTIN_DEFAULT_CLASS,
    SERVICE_CLASS_LABEL,
    class_name_for,
    parse_service_class,
    parse_service_classes,
    resolve_target,
)

PREMIUM = """
name: Premium
priority: 1
data:
  - model: default/default
    slo-tpot: 24
    slo-ttft: 500
  - model: llama0-70b
    slo-tpot: 80
    slo-ttft: 500
"""
FREEMIUM = {
    "name": "Freemium",
    "priority": 10,
    "data": [
        {"model": "granite-13b", "slo-tpot": 200, "slo-ttft": 2000},
        {"model": "llama0-7b", "slo-tpot": 150, "slo-ttft": 1500},
    ],
}


def test_upstream_configmap_parses() -> None:
    classes, warnings = parse_service_classes({"premium.yaml": PREMIUM, "freemium.yaml": FREEMIUM})
    assert warnings == ()
    assert sorted(classes.classes) == ["Freemium", "Premium"]
    premium = classes.classes["Premium"]
    assert premium.priority == 1
    row = premium.target_for("llama0-70b")
    assert row is not None and (row.slo_tpot_ms, row.slo_ttft_ms) == (80, 500)
    wildcard = premium.target_for("anything")
    assert wildcard is not None and wildcard.slo_tpot_ms == 24
    assert classes.default_class is BUILTIN_DEFAULT_CLASS


@pytest.mark.parametrize(
    ("requested", "model", "expected"),
    [
        pytest.param("Premium", "llama0-70b", ("Premium", 1, 80.0, 500.0), id="exact-row"),
        pytest.param("Premium", "other", ("Premium", 1, 24.0, 500.0), id="class-wide-row"),
        pytest.param("Freemium", "llama0-7b", ("Freemium", 10, 150.0, 1500.0), id="freemium"),
        pytest.param("Freemium", "other", ("Default", 100, 50.0, 1000.0), id="no-row-falls-back"),
        pytest.param(None, "x", ("Default", 100, 50.0, 1000.0), id="no-label-default"),
        pytest.param("Gold", "x", ("Default", 100, 50.0, 1000.0), id="unknown-class"),
    ],
)
def test_resolve_target(requested: str | None, model: str, expected: tuple[str, int, float, float]) -> None:
    classes, _ = parse_service_classes({"premium.yaml": PREMIUM, "freemium.yaml": FREEMIUM})
    target, warning = resolve_target(classes, requested, model)
    assert (target.class_name, target.priority, target.itl_ms, target.ttft_ms) == expected
    assert bool(warning) == (requested in ("Gold", "Freemium") and expected[0] == "Default")


def test_default_class_key_picks_a_class() -> None:
    classes, warnings = parse_service_classes({"premium.yaml": PREMIUM, "default-class": "Premium"})
    assert warnings == ()
    target, _ = resolve_target(classes, None, "m")
    assert (target.class_name, target.itl_ms) == ("Premium", 24)
    _, warnings = parse_service_classes({"default-class": "Nope"})
    assert any("Nope" in w for w in warnings)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("name: X\ndata:\n  - model: m\n    slo-tpot: -1\n    slo-ttft: 5\n", "bad.yaml.data.0.slo-tpot"),
        pytest.param("name: X\npriority: high\n", "bad.yaml.priority"),
        pytest.param("[1, 2]", "bad.yaml: expected a mapping"),
        pytest.param("data: []\n", "bad.yaml.name"),
        pytest.param(
            "name: X\ndata:\n  - {model: m, slo-tpot: 1, slo-ttft: 1}\n  - {model: m, slo-tpot: 2, slo-ttft: 2}\n",
            "duplicate model 'm'",
        ),
    ],
)
def test_errors_name_key_path_and_value(value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace(".", r"\.").replace("[", r"\[")):
        parse_service_class("bad.yaml", value)
    classes, warnings = parse_service_classes({"bad.yaml": value, "premium.yaml": PREMIUM})
    assert list(classes.classes) == ["Premium"]
    assert len(warnings) == 1 and "ignored" in warnings[0]


def test_unknown_keys_warn_but_keep_the_class() -> None:
    classes, warnings = parse_service_classes({"p.yaml": PREMIUM + "color: red\n"})
    assert "Premium" in classes.classes
    assert warnings == ("p.yaml.color: unknown key ignored",)


def test_label_then_annotation() -> None:
    assert class_name_for({SERVICE_CLASS_LABEL: "Premium"}, {SERVICE_CLASS_LABEL: "Freemium"}) == "Premium"
    assert class_name_for({}, {SERVICE_CLASS_LABEL: "Freemium"}) == "Freemium"
    assert class_name_for({SERVICE_CLASS_LABEL: " "}, {}) is None
