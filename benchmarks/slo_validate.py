"""Check the SLO performance model against the simulator's replica: one replica, Poisson arrivals, token lengths
drawn from the simulator's presets; predicted vs simulated mean/p90 per-request ITL and mean/p95 TTFT.

Run: .venv/bin/python benchmarks/slo_validate.py llama-3.1-8b/H100 azure-conv 8 12 15.6
"""

from __future__ import annotations

import sys

import numpy as np

from wva_ray.core.analyzers.slo.perf_model import LatencyTargets, PerfParams, ReplicaPerfModel, TokenMix
from wva_ray.sim.model.profiles import load_profiles
from wva_ray.sim.model.replica import Completed
from wva_ray.sim.model.replica import ReplicaModel as SimReplica
from wva_ray.sim.model.traces import TOKEN_PRESETS

N_REQUESTS = 2500


def main() -> None:
    profile_id, preset, *rates = sys.argv[1:]
    prof = load_profiles()[profile_id]
    tok = TOKEN_PRESETS[preset]
    rng = np.random.default_rng(5)
    prompts = np.clip(np.round(rng.lognormal(tok.in_mu, tok.in_sigma, 20000)), 1, tok.max_in).astype(np.int64)
    outputs = np.clip(np.round(rng.lognormal(tok.out_mu, tok.out_sigma, 20000)), 1, tok.max_out).astype(np.int64)
    params = PerfParams(
        prof.alpha_ms,
        prof.beta_ms,
        prof.gamma_ms_per_1k_kv,
        prof.prefill_tokens_per_s,
        prof.max_num_seqs,
        float(prof.kv_capacity_tokens),
        prof.max_num_batched_tokens,
    )
    mix = TokenMix(
        float(prompts.mean()),
        float(outputs.mean()),
        float(prompts.std() / prompts.mean()),
        float(outputs.std() / outputs.mean()),
    )
    model = ReplicaPerfModel(params, mix)
    print(f"{profile_id} {preset}: mean in/out {mix.input_tokens:.0f}/{mix.output_tokens:.0f}, cv {mix.input_cv:.2f}")
    for rate in map(float, rates):
        lat = model.latency(rate, LatencyTargets(50, 1000, ttft_quantile=0.95, itl_quantile=0.90))
        sim_rng = np.random.default_rng(1)
        arrivals = np.cumsum(sim_rng.exponential(1 / rate, N_REQUESTS))
        pick = sim_rng.integers(0, len(prompts), N_REQUESTS)
        rep = SimReplica(prof)
        done: list[Completed] = []
        for i in range(N_REQUESTS):
            rep.submit(i, int(prompts[pick[i]]), int(outputs[pick[i]]), float(arrivals[i]))
            done += rep.advance(float(arrivals[i]))
        done += rep.advance(float(arrivals[-1]) + 3600)
        kept = [c for c in done if isinstance(c.request_id, int) and c.request_id >= N_REQUESTS // 10]
        itl = np.array([c.itl_s for c in kept if c.output_tokens > 1]) * 1000
        ttft = np.array([c.ttft_s for c in kept]) * 1000
        print(
            f"  {rate:6.2f} req/s  ITL mean model {lat.itl_mean_ms:6.1f} sim {itl.mean():6.1f} | "
            f"ITL p90 model {lat.itl_q_ms:6.1f} sim {np.quantile(itl, 0.9):6.1f} | "
            f"TTFT mean model {lat.ttft_mean_ms:6.0f} sim {ttft.mean():6.0f} | "
            f"TTFT p95 model {lat.ttft_q_ms:6.0f} sim {np.quantile(ttft, 0.95):6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
