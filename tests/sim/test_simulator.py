"""Simulator invariants (Hypothesis): requests are conserved, latencies are causal, billing matches the pods,
a GPU budget is never exceeded; plus scripted scale-up/down cases."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, synthesize
from wva_ray.sim.observe import Observation
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant

H100 = get_profile("llama-3.1-8b/H100")


class Fixed:
    """A test policy: replays a {time: {variant: replicas}} script."""

    def __init__(self, script: Mapping[float, Mapping[str, int]], interval_s: float = 10.0) -> None:
        self.name = "fixed"
        self.interval_s = interval_s
        self.script = dict(script)
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> Mapping[str, int]:
        self.seen.append(obs)
        return self.script.get(obs.now_s, {})


def _variant(name: str = "v", initial: int = 1, startup: float = 30.0, max_replicas: int = 10) -> SimVariant:
    return SimVariant(name, "m", H100, startup, 1.0, 0, max_replicas, initial)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(0.5, 30.0),
    duration=st.floats(60.0, 240.0),
    replicas=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_requests_are_conserved_and_causal(rate: float, duration: float, replicas: int, seed: int) -> None:
    shape = RateShape(points=[(0, rate), (duration, rate)])
    trace = synthesize(shape, duration, TOKEN_PRESETS["azure-conv"], seed=seed)
    sim = Simulation([SimModel("m", 1, trace)], [_variant(initial=replicas)], Fixed({}), duration, seed=seed)
    res = sim.run()
    log = res.requests["m"]
    assert len(log.arrival_s) == len(trace)
    done = ~np.isnan(log.ttft_s)
    assert int(done.sum()) + res.timeouts == len(trace)
    assert bool(np.all(log.ttft_s[done] > 0))
    assert bool(np.all(log.e2e_s[done] >= log.ttft_s[done]))
    # a static fleet is billed exactly replicas x duration
    gpu_hours = sum((p.stopped_s - p.created_s) * p.gpus for p in res.pods) / 3600
    assert gpu_hours == pytest.approx(replicas * duration / 3600)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.integers(1, 4), want=st.integers(1, 8))
def test_gpu_budget_is_never_exceeded(budget: int, want: int) -> None:
    trace = synthesize(RateShape(points=[(0, 5), (120, 5)]), 120, TOKEN_PRESETS["azure-conv"], seed=1)
    pol = Fixed({10.0: {"v": want}, 60.0: {"v": want}})
    sim = Simulation([SimModel("m", 1, trace)], [_variant(initial=1)], pol, 120, gpu_budget={"H100": budget})
    res = sim.run()
    events = sorted([(p.created_s, p.gpus) for p in res.pods] + [(p.stopped_s, -p.gpus) for p in res.pods])
    level = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        level += delta
        peak = max(peak, level)
    assert peak <= budget
    assert (res.budget_denied > 0) == (want > budget)


def test_scale_up_waits_for_startup_and_scale_down_drains() -> None:
    trace = synthesize(RateShape(points=[(0, 20), (600, 20)]), 600, TOKEN_PRESETS["azure-conv"], seed=3)
    pol = Fixed({100.0: {"v": 3}, 400.0: {"v": 1}})
    res = Simulation([SimModel("m", 1, trace)], [_variant(initial=1, startup=90.0)], pol, 600, seed=3).run()
    t = res.timeline_s
    ready = res.ready["v"]
    current = res.current["v"]
    assert ready[(t >= 110) & (t < 190)].max() == 1 and current[(t >= 110) & (t < 190)].min() == 3
    assert ready[(t >= 200) & (t < 400)].min() == 3
    assert ready[t >= 410].max() == 1
    assert [(a.before, a.after) for a in res.actions] == [(1, 3), (3, 1)]
    # the two drained pods were billed past 400 s until their in-flight requests finished
    drained = [p for p in res.pods if p.stopped_s < 600]
    assert len(drained) == 2 and all(p.stopped_s >= 400 for p in drained)
    assert bool(np.all(~np.isnan(res.requests["m"].ttft_s)))


def test_no_ready_pod_holds_requests_in_the_gateway() -> None:
    trace = synthesize(RateShape(points=[(0, 2), (200, 2)]), 200, TOKEN_PRESETS["azure-conv"], seed=4)
    pol = Fixed({0.0: {"v": 1}})
    res = Simulation([SimModel("m", 1, trace)], [_variant(initial=0, startup=30.0)], pol, 200, seed=4).run()
    log = res.requests["m"]
    early = log.arrival_s < 30.0
    # early requests waited for the pod (TTFT includes the wait), none was lost
    assert bool(np.all(log.ttft_s[early] >= 30.0 - log.arrival_s[early] - 1e-6))
    assert res.timeouts == 0


def test_observation_sees_scraped_kv_and_queue() -> None:
    trace = synthesize(RateShape(points=[(0, 40), (120, 40)]), 120, TOKEN_PRESETS["azure-conv"], seed=5)
    pol = Fixed({})
    Simulation([SimModel("m", 1, trace)], [_variant(initial=1)], pol, 120, seed=5).run()
    last = pol.seen[-1]
    (view,) = last.variants
    (pod,) = view.pods
    assert pod.kv_max_1m is not None and pod.kv_max_1m > 0
    assert pod.queue_max_1m is not None and pod.queue_max_1m > 0  # 40 req/s overloads one H100
    assert pod.avg_input_tokens_5m is not None and 300 < pod.avg_input_tokens_5m < 3000
