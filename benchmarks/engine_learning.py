"""How close analyzer learned's model gets to the simulator's calibrated profile after 10 minutes of traffic.

Runs the bench's `wva-ray` policy (a fresh install: analyzer learned, through the rendered snapshot only) on one
quick scenario for 600 s of simulated time, then compares each variant's learned decode step (at batch 8, 32,
128 with 1,500 KV tokens per sequence), prefill speed and start-up delay with the profile the simulator used.

    python benchmarks/engine_learning.py S1
"""

from __future__ import annotations

import sys

from wva_ray.core.analyzers.learned.perf import uncertainty
from wva_ray.core.analyzers.learned.state import EngineState
from wva_ray.core.analyzers.slo.perf_model import PerfParams
from wva_ray.sim.bench.capacity import CapacityTable
from wva_ray.sim.bench.policies import build
from wva_ray.sim.bench.prepare import CurveTable, prepare
from wva_ray.sim.bench.suite import SCENARIOS_DIR, TRACES_DIR
from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.scenario import expand, load_scenarios
from wva_ray.sim.policies.wva_ray import WvaRay
from wva_ray.sim.simulator import Simulation

KV_PER_SEQ = 1500


def main(name: str, seconds: float = 600.0) -> None:
    spec = next(s for n, s in load_scenarios(SCENARIOS_DIR).items() if n.startswith(name))
    scn = next(iter(expand(spec, True)))
    prep = prepare(scn, scn.seeds[0], CapacityTable(n_requests=1500), CurveTable(True), TRACES_DIR, Fidelity())
    built = build("wva-ray", prep)
    policy = built.policy
    assert isinstance(policy, WvaRay)
    Simulation(
        prep.models,
        prep.variants,
        policy,
        seconds,
        seed=prep.seed,
        scrape_interval_s=scn.scrape_interval_s,
        record_interval_s=scn.record_interval_s,
        gpu_budget=scn.gpu_budget,
        actuator=built.actuator,
        fidelity=prep.fidelity,
    ).run()
    for group in policy.carried_state().get("learned", {}).values():
        for vname, lv in EngineState.from_dict(group).variants.items():
            var = next(v for v in prep.variants if v.name == vname)
            prof = var.profile
            p = lv.perf.params(PerfParams(1.0, 0.0, 0.0, 1.0))
            parts = []
            for n in (8, 32, 128):
                truth = prof.alpha_ms + prof.beta_ms * n + prof.gamma_ms_per_1k_kv * n * KV_PER_SEQ / 1000
                got = p.iteration_ms(n, n * KV_PER_SEQ)
                parts.append(f"d({n}) {got:.2f}/{truth:.2f} ms ({(got / truth - 1) * 100:+.0f}%)")
            pf, pf_true = p.prefill_tokens_per_s, prof.prefill_tokens_per_s
            print(
                f"{scn.name} {vname}: {uncertainty(lv.perf).samples} windows [{lv.perf.prior_source}]; "
                + ", ".join(parts)
                + f"; prefill {pf:.0f}/{pf_true:.0f} tok/s ({(pf / pf_true - 1) * 100:+.0f}%); start-up "
                f"{lv.startup.mean_s:.0f}/{var.startup_s:.0f} s ({lv.startup.samples} pods)"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "S1")
