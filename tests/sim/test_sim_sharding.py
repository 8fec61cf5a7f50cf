"""The simulator runs wva-ray through the runtime's sharded path, and the shard count changes no decision: a
three-model scenario under 1 and 3 shards gives the same decisions every cycle and the same run (issue 14)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.sim.recorder import Recorder
from wva_ray.core.sharding import assign_units, shard_units
from wva_ray.sim.bench.policies import fresh_install
from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, synthesize
from wva_ray.sim.policies.wva_ray import WvaRay
from wva_ray.sim.records import SimResult
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant

DURATION_S = 600.0


def _run(shards: int, analyzer: str) -> tuple[Recorder, SimResult]:
    h100 = get_profile("llama-3.1-8b/H100")
    big = get_profile("llama-3.1-70b/H100x4")
    other = h100.model_copy(update={"model": "qwen-2.5-7b"})  # a third modelID: a third shard unit
    up = RateShape(points=[(0, 4), (200, 30), (600, 30)])
    down = RateShape(points=[(0, 20), (300, 20), (320, 3), (600, 3)])
    conv = TOKEN_PRESETS["azure-conv"]
    models = [
        SimModel("chat", 1, synthesize(up, DURATION_S, conv, seed=3)),
        SimModel("long", 50, synthesize(RateShape(points=[(0, 0.2), (600, 0.6)]), DURATION_S, conv, seed=4)),
        SimModel("code", 100, synthesize(down, DURATION_S, conv, seed=5)),
    ]
    variants = [
        SimVariant("chat-h100", "chat", h100, 60.0, 1.0, 1, 8, 1),
        SimVariant("long-h100x4", "long", big, 60.0, 4.0, 1, 3, 1),
        SimVariant("code-h100", "code", other, 60.0, 1.0, 1, 8, 3),
    ]
    extra: dict[str, Any] = dict(fresh_install().saturation_default)
    extra.pop("analyzerName", None)
    rec = Recorder(WvaRay(f"wva-ray-{shards}", analyzer=analyzer, extra=extra, shards=shards))
    res = Simulation(models, variants, rec, DURATION_S, seed=3, gpu_budget={"H100": 20}).run()
    return rec, res


@pytest.mark.parametrize("analyzer", [str(fresh_install().saturation_default.get("analyzerName", "")), "saturation"])
def test_one_and_three_shards_decide_the_same(analyzer: str) -> None:
    one, res1 = _run(1, analyzer)
    three, res3 = _run(3, analyzer)
    # the split is real: with 3 shards the groups land on more than one shard
    owned = assign_units(shard_units(three.snapshots[-1]), 3)
    assert sum(1 for groups in owned.values() if groups) >= 2
    assert one.decisions == three.decisions
    assert one.reasons == three.reasons
    assert any(one.decisions), "nothing was ever decided: the comparison would be empty"
    assert res1.actions == res3.actions
    for v in res1.current:
        assert np.array_equal(res1.current[v], res3.current[v])
    for m in res1.requests:
        assert np.array_equal(res1.requests[m].ttft_s, res3.requests[m].ttft_s, equal_nan=True)


def test_a_shard_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="shards"):
        WvaRay(shards=0)
