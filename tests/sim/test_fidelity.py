"""Fidelity switches (wva_ray.sim.fidelity, ReplicaOptions): each changes what it names, and off means off."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.replica import ReplicaModel, ReplicaOptions
from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, synthesize
from wva_ray.sim.observe import Observation
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant

H100 = get_profile("llama-3.1-8b/H100")


def _ttft(options: ReplicaOptions, prompt: int = 8000) -> float:
    rep = ReplicaModel(H100, options=options)
    rep.submit(1, prompt, 10, 0.0)
    (done,) = rep.advance(100.0)
    return done.ttft_s


def test_prefix_cache_and_prefill_growth_change_ttft() -> None:
    base = _ttft(ReplicaOptions())
    assert _ttft(ReplicaOptions(prefix_hit_ratio=0.5)) < 0.6 * base
    assert _ttft(ReplicaOptions(prefill_growth_per_1k=0.1)) > 1.5 * base


def test_preemption_requeues_and_every_request_still_completes() -> None:
    small = H100.model_copy(update={"kv_capacity_tokens": 6000})
    rep = ReplicaModel(small, options=ReplicaOptions(preemption=True))
    for i in range(8):
        rep.submit(i, 500, 600, 0.0)  # prompts fit, generation overflows the KV
    done = rep.advance(1000.0)
    assert rep.preemptions > 0
    assert sorted(c.request_id for c in done) == list(range(8))
    off = ReplicaModel(small)
    for i in range(8):
        off.submit(i, 500, 600, 0.0)
    assert len(off.advance(1000.0)) == 8 and off.preemptions == 0


def test_prefill_not_slowing_decode_is_faster_decode() -> None:
    def itl(opt: ReplicaOptions) -> float:
        rep = ReplicaModel(H100, options=opt)
        for i in range(40):
            rep.submit(i, 3000, 200, i * 0.05)
        return float(np.mean([c.itl_s for c in rep.advance(500.0)]))

    assert itl(ReplicaOptions(prefill_slows_decode=False)) < itl(ReplicaOptions())


class Hold:
    name = "hold"
    interval_s = 1e9

    def decide(self, obs: Observation) -> Mapping[str, int]:
        return {}


class ScaleOnce:
    name = "once"
    interval_s = 10.0

    def decide(self, obs: Observation) -> Mapping[str, int]:
        return {"v": 4} if obs.now_s == 0.0 else {}


def _run(fid: Fidelity, policy: object, initial: int = 4, duration: float = 300.0) -> object:
    trace = synthesize(RateShape(points=[(0, 30), (duration, 30)]), duration, TOKEN_PRESETS["azure-conv"], seed=1)
    var = SimVariant("v", "m", H100, 60.0, 1.0, 0, 8, initial)
    return Simulation([SimModel("m", 1, trace)], [var], policy, duration, seed=1, fidelity=fid).run()  # type: ignore[arg-type]


@pytest.mark.parametrize("routing", ["round-robin", "stale-least-loaded"])
def test_imperfect_routing_serves_everyone_differently(routing: str) -> None:
    ideal = _run(Fidelity(), Hold())
    other = _run(Fidelity(routing=routing, routing_refresh_s=5.0), Hold())  # type: ignore[arg-type]
    a, b = ideal.requests["m"].ttft_s, other.requests["m"].ttft_s  # type: ignore[attr-defined]
    assert not np.isnan(b).any() and not np.isnan(a).any()
    assert not np.allclose(a, b)


def test_scheduling_delay_and_start_up_spread_delay_readiness() -> None:
    res = _run(Fidelity(scheduling_delay_s=30.0, startup_spread=0.5), ScaleOnce(), initial=1)
    waits = sorted(p.ready_s - p.created_s for p in res.pods if p.ready_s is not None and p.ready_s > p.created_s)  # type: ignore[attr-defined]
    assert len(waits) == 3
    assert all(30.0 + 30.0 - 1e-6 <= w <= 30.0 + 90.0 + 1e-6 for w in waits)
    assert waits[0] != waits[-1]  # drawn, not fixed
