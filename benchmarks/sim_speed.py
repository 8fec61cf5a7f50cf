"""Simulator speed (issue 5 target: one hour of trace at 50 req/s in under 60 s on one core).

Usage: python benchmarks/sim_speed.py [--rate 50] [--hours 1] [--replicas 5]
Prints requests, wall seconds and CPU seconds of this process (single-threaded: CPU time = one-core time,
which is what to compare with the target when other jobs share the machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

from wva_ray.sim.model.profiles import get_profile
from wva_ray.sim.model.traces import TOKEN_PRESETS, RateShape, synthesize
from wva_ray.sim.observe import Observation
from wva_ray.sim.simulator import SimModel, Simulation, SimVariant


class Hold:
    name = "hold"
    interval_s = 30.0

    def decide(self, obs: Observation) -> Mapping[str, int]:
        return {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--replicas", type=int, default=5)
    args = ap.parse_args()
    dur = args.hours * 3600
    trace = synthesize(RateShape(points=[(0, args.rate), (dur, args.rate)]), dur, TOKEN_PRESETS["azure-conv"], seed=1)
    var = SimVariant("h100", "m", get_profile("llama-3.1-8b/H100"), 90.0, 1.0, 1, 100, args.replicas)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    res = Simulation([SimModel("m", 1, trace)], [var], Hold(), dur, seed=1).run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    done = sum(int((~(log.ttft_s != log.ttft_s)).sum()) for log in res.requests.values())
    print(f"requests={len(trace)} completed={done} replicas={args.replicas} wall_s={wall:.1f} cpu_s={cpu:.1f}")


if __name__ == "__main__":
    main()
