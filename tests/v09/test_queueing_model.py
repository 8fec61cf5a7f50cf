"""`wva-queueing-model-config` (v0.9) mapped onto analyzer slo (core.v09_queueing): precedence, targets as a
service class, validation naming key and value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.core.builders import V, saturation, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.analyzers.base import slo_context
from wva_ray.core.decide import decide
from wva_ray.core.v09_queueing import CLASS_KEY, CLASS_NAME, map_queueing_model


def test_absent_default_means_inactive() -> None:
    assert not map_queueing_model({}, {}).active
    assert not map_queueing_model({"m1": "model_id: m1\ntargetTTFT: 500\ntargetITL: 20\n"}, {}).active


def test_targets_become_a_default_service_class() -> None:
    qm = map_queueing_model(
        {
            "default": "sloMultiplier: 3\ntargetTTFT: 1000\ntargetITL: 50\n",
            "m1-llm": {"model_id": "m1", "namespace": "llm", "targetTTFT": 500, "targetITL": 20},
        },
        {},
    )
    assert qm.active and not qm.warnings
    cls = qm.service_classes[CLASS_KEY]
    assert cls["name"] == CLASS_NAME
    assert {r["model"]: (r["slo-ttft"], r["slo-tpot"]) for r in cls["data"]} == {"*": (1000, 50), "m1": (500, 20)}
    assert qm.service_classes["default-class"] == CLASS_NAME


def test_a_user_default_class_is_kept() -> None:
    qm = map_queueing_model({"default": {"targetTTFT": 1000, "targetITL": 50}}, {"default-class": "premium"})
    assert "default-class" not in qm.service_classes


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ({"sloMultiplier": 1}, "sloMultiplier: 1"),
        ({"targetTTFT": 500}, "set both targetTTFT and targetITL"),
        ({"targetTTFT": -1, "targetITL": 20}, "targetTTFT: -1"),
        ({"tuningEnabled": "yes"}, "tuningEnabled: 'yes'"),
    ],
)
def test_bad_keys_are_reported_with_key_and_value(entry: dict[str, object], text: str) -> None:
    qm = map_queueing_model({"default": entry}, {})
    assert qm.active and any(text in w for w in qm.warnings), qm.warnings


def test_inferred_targets_are_reported_not_invented() -> None:
    qm = map_queueing_model({"default": {"targetTTFT": 0, "targetITL": 0}}, {})
    assert qm.service_classes == {} and any("does not infer" in w for w in qm.warnings)


NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("queueing", "analyzer"), [({}, "saturation"), ({"default": "targetTTFT: 800\ntargetITL: 30\n"}, "slo")]
)
def test_the_configmap_takes_precedence_and_we_size(queueing: dict[str, str], analyzer: str) -> None:
    data = snapshot_dict(
        V("a", [(0.5, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200, arrival_rate=2.0),
        config={**saturation(analyzerName="saturation"), "queueingModel": queueing},
    )
    plan = decide(Snapshot.model_validate(data), NOW)
    assert plan.decisions[0].analyzer == analyzer
    assert plan.decisions[0].held is False


def test_the_mapped_class_is_what_analyzer_slo_reads() -> None:
    qm = map_queueing_model({"default": "targetTTFT: 800\ntargetITL: 30\n"}, {})
    ctx = slo_context(qm.service_classes, {})
    assert ctx.warnings == ()
    target = ctx.classes.default_class.target_for("any-model")
    assert ctx.classes.default_class.name == CLASS_NAME
    assert target is not None and (target.slo_ttft_ms, target.slo_tpot_ms) == (800, 30)
