"""No wva-ray policy receives simulator truth: it decides on the rendered snapshot alone (issue 14, item 1)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from tests.sim.recorder import Recorder
from wva_ray.sim.bench.capacity import CapacityTable
from wva_ray.sim.bench.policies import FAMILIES, build
from wva_ray.sim.bench.prepare import CurveTable, prepare
from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.profiles import Profile, get_profile
from wva_ray.sim.model.scenario import load_scenario
from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, synthesize
from wva_ray.sim.observe import ModelView, Observation, PodView, VariantView
from wva_ray.sim.policies.wva_ray import WvaRay
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant

TRUTH_WORDS = ("profile", "startup", "alpha", "beta", "gamma", "prefill", "future", "trace")


def _walk(cls: type, seen: set[type]) -> list[str]:
    if cls in seen or not dataclasses.is_dataclass(cls):
        return []
    seen.add(cls)
    bad = []
    for name, hint in typing.get_type_hints(cls).items():
        if any(w in name.lower() for w in TRUTH_WORDS) or Profile in typing.get_args(hint) or hint is Profile:
            bad.append(f"{cls.__name__}.{name}")
        for arg in (hint, *typing.get_args(hint)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type):
                    bad += _walk(inner, seen)
    return bad


def test_observation_types_carry_no_truth() -> None:
    assert _walk(Observation, set()) == []
    for cls in (VariantView, PodView, ModelView):
        assert _walk(cls, set()) == []


def _keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_wva_ray_decides_on_the_snapshot_alone() -> None:
    h100 = get_profile("llama-3.1-8b/H100")
    trace = synthesize(RateShape(points=[(0, 5), (120, 40), (300, 40)]), 300, TOKEN_PRESETS["azure-conv"], seed=2)
    classes = {"m.yaml": {"name": "m", "data": [{"model": "default", "slo-tpot": 50, "slo-ttft": 1000}]}}
    make = lambda: WvaRay("wva-ray-slo", analyzer="slo", config={"serviceClasses": classes})  # noqa: E731
    rec = Recorder(make())
    var = SimVariant("v", "m", h100, 60.0, 1.0, 1, 8, 1)
    Simulation([SimModel("m", 1, trace)], [var], rec, 300, seed=2).run()
    assert rec.seen and all(o.snapshot is not None for o in rec.seen)
    blind = Recorder(make())  # the same policy shown nothing but the snapshot decides the same
    for obs in rec.seen:
        blind.decide(Observation(obs.now_s, (), (), None, obs.snapshot))
    assert blind.decisions == rec.decisions
    assert any(d for d in rec.decisions)
    for obs in rec.seen:
        assert obs.snapshot is not None
        assert {"config", "state"}.isdisjoint(obs.snapshot)  # controller-owned parts are the policy's own
        keys = _keys(obs.snapshot)
        for word in ("alpha", "beta", "gamma", "startup", "prefill", "profile", "capacity"):
            assert not [k for k in keys if word in k.lower()], word
        for va in obs.snapshot["variantAutoscalings"]:
            assert "status" not in va


def test_every_bench_wva_policy_is_configured_like_an_install(tmp_path: Path, shared_dir: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: T\nduration_s: 60\nseeds: [1]\nmodels:\n  - name: m\n"
        "    workload: {synthetic: {shape: {points: [[0, 2]]}}}\n"
        "    variants: [{name: v, profile: llama-3.1-8b/H100, min_replicas: 1, max_replicas: 2}]\n",
        encoding="utf-8",
    )
    scn = load_scenario(tmp_path / "s.yaml")
    prep = prepare(scn, 1, CapacityTable(n_requests=300), CurveTable(True), shared_dir / "data" / "traces", Fidelity())
    for family in FAMILIES:
        if not family.startswith("wva-ray"):
            continue
        policy = build(family, prep).policy
        assert isinstance(policy, WvaRay) and policy.reads_snapshot
        assert set(policy.config) <= {"serviceClasses"}, policy.config  # no profile override from the simulator
