"""Prefill/decode roles sized per role within a model group (core.roles; upstream-v0.9.md sections 1 and 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.core.builders import V, saturation, snapshot_dict
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.decide import decide

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _plan(roles: dict[str, str], analyzer: str = "saturation") -> dict[str, int]:
    # prefill pool saturated (KV 0.95, 10 waiting), decode pool idle (KV 0.05 on 2 pods); 12800 tokens per replica
    p = V("p", [(0.95, 10.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    d = V("d", [(0.05, 0.0), (0.05, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    data: dict[str, Any] = snapshot_dict(p, d, config=saturation(analyzerName=analyzer))
    for va in data["variantAutoscalings"]:
        role = roles.get(va["metadata"]["name"])
        if role is not None:
            va["metadata"]["labels"]["llm-d.ai/role"] = role
    plan = decide(Snapshot.model_validate(data), NOW)
    return {x.name: x.desired_replicas for x in plan.decisions}


def test_one_pool_hides_the_saturated_role() -> None:
    # pooled: demand 20200 + 1600 tokens against 3 x 12800: neither up (25647 < 38400) nor down (7257 < 12800)
    assert _plan({}) == {"p": 1, "d": 2}


def test_roles_are_sized_apart() -> None:
    # prefill: 20200/0.85 - 12800 = 10965 required -> +1; decode: 25600 - 1600/0.70 = 23314 spare -> -1
    assert _plan({"p": "prefill", "d": "decode"}) == {"p": 2, "d": 1}


@pytest.mark.parametrize("label", ["both", "mixed", ""])
def test_anything_else_is_both(label: str) -> None:
    assert _plan({"p": label, "d": label}) == {"p": 1, "d": 2}


def test_stateful_analyzers_size_the_group_whole() -> None:
    p = V("p", [(0.5, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    d = V("d", [(0.5, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    data = snapshot_dict(p, d, config=saturation(analyzerName="learned"))
    for va, role in zip(data["variantAutoscalings"], ("prefill", "decode"), strict=True):
        va["metadata"]["labels"]["llm-d.ai/role"] = role
    plan = decide(Snapshot.model_validate(data), NOW)
    assert all(any("keeps one state per model" in s for s in x.steps) for x in plan.decisions)
