"""Analyzer learned fed by a REAL vLLM engine: how close its decode-step and prefill estimates get to the
calibration's fit of the same engine, measured on the same traffic (issue 15's target: within 15 %).

One engine (the calibration's configuration); wva-ray's real cycle (`CycleCore` + `LocalRuntime`, analyzer
`learned`, metrics from the engine's `/metrics` through the direct-scrape collector) runs every `--interval` s
while the calibration's own probes drive the engine (closed loops of N = 1, 2, 4, 8 clients with 32- and 400-token
prompts, then lone requests of 16-900 tokens), repeated `--rounds` times. The calibration fit comes from exactly
those probes (`sim.calibrate.fit`, plain and net of prefill stalls); the learned model is read from the cycle's
carried state after the last round. The variant is pinned to 1 replica (min = max = 1), so no second engine starts.

    PYTHONPATH=. python benchmarks/vllm_learned.py [--rounds 2] [--interval 5] [--output benchmarks/results/calibration]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from wva_ray.api.snapshot import SnapshotConfig
from wva_ray.core.analyzers.learned.perf import uncertainty
from wva_ray.core.analyzers.learned.state import EngineState
from wva_ray.core.analyzers.slo.perf_model import PerfParams
from wva_ray.runtime.coordinator_cycle import CycleCore, CycleReport
from wva_ray.runtime.local import LocalRuntime
from wva_ray.sim.calibrate.fit import DecodeFit, ItlSample, PrefillSample, fit_decode, fit_prefill
from wva_ray.testing.bench_host import load1
from wva_ray.testing.memory_cluster import VariantSpec
from wva_ray.testing.vllm_calibrate import measure_decode, measure_prefill
from wva_ray.testing.vllm_cluster import VllmCluster, VllmScrapeSource, VllmWiring
from wva_ray.testing.vllm_engine import EngineEnv, EngineSpec, VllmFleet

NAMESPACE, VARIANT = "bench", "tiny-llama-cpu"
SPEC = EngineSpec(max_num_seqs=8, num_gpu_blocks=256, block_size=32, max_model_len=1024, max_num_batched_tokens=2048)
POINTS = ((1, 100.0), (4, 1000.0), (8, 3000.0))  # (batch, KV tokens) where the step estimates are compared


def _step(fit: DecodeFit | PerfParams, n: int, kv: float) -> float:
    return fit.alpha_ms + fit.beta_ms * n + fit.gamma_ms_per_1k_kv * kv / 1000.0


async def _drive(cluster: VllmCluster, rounds: int, interval_s: float, run_s: float) -> dict[str, Any]:
    engine = next(iter(cluster.engines.values()))
    source = VllmScrapeSource(cluster, window_s=15.0)
    wiring = VllmWiring(cluster, source)
    core = CycleCore(wiring.cluster_view(), wiring.publishers(), 1, wiring.clock())
    runtime = LocalRuntime(core, wiring.metrics_source(), interval_s=interval_s, deadline_s=interval_s * 2)
    reports: list[CycleReport] = []
    stop = asyncio.Event()

    async def scrape(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await source.scrape_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    tasks = [asyncio.create_task(scrape(stop)), asyncio.create_task(runtime.run(stop, reports.append))]
    itl: list[ItlSample] = []
    pre: list[PrefillSample] = []
    loads = [load1()]
    try:
        for r in range(rounds):
            itl += await measure_decode(engine, run_s=run_s, seed=r)
            pre += await measure_prefill(engine, seed=r)
            loads.append(load1())
        await asyncio.sleep(interval_s * 2)  # the last windows reach the learned model
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await source.close()
    learned = reports[-1].plan.state.learned if reports else {}
    return {"itl": itl, "prefill": pre, "learned": learned, "cycles": len(reports), "load_avg": loads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--run-s", type=float, default=10.0, help="seconds per closed-loop probe")
    ap.add_argument("--output", type=Path, default=Path("benchmarks/results/calibration"))
    args = ap.parse_args()
    env = EngineEnv.locate()
    variant = VariantSpec(VARIANT, SPEC.served_model_name, "cpu", replicas=1, namespace=NAMESPACE,
                          min_replicas=1, max_replicas=1)  # fmt: skip
    config = SnapshotConfig(saturation={"default": {"analyzerName": "learned"}})
    started = time.monotonic()
    with VllmFleet(
        env, SPEC, Path(tempfile.mkdtemp(prefix="wva-learned-")), target=VARIANT, namespace=NAMESPACE
    ) as fleet:
        engine = fleet.start_engine(f"{VARIANT}-0")
        engine.wait_ready(600.0)
        cluster = VllmCluster(fleet, variant, config=config, adopt=[engine])
        try:
            got = asyncio.run(_drive(cluster, args.rounds, args.interval, args.run_s))
        finally:
            cluster.close()
    prefill = fit_prefill(got["prefill"])
    fits = {"plain": fit_decode(got["itl"]), "net": fit_decode(got["itl"], prefill.prefill_tokens_per_s)}
    group = next(iter(got["learned"].values()), None)
    if group is None:
        raise SystemExit("the cycle carried no learned state (no analyzer learned group?)")
    lv = EngineState.from_dict(group).variants[VARIANT]
    p = lv.perf.params(PerfParams(1.0, 0.0, 0.0, 1.0))
    rows = []
    for n, kv in POINTS:
        row: dict[str, Any] = {"batch": n, "kv_tokens": kv, "learned_ms": _step(p, n, kv)}
        for name, fit in fits.items():
            row[f"{name}_fit_ms"] = _step(fit, n, kv)
            row[f"rel_vs_{name}"] = row["learned_ms"] / row[f"{name}_fit_ms"] - 1.0
        rows.append(row)
    result = {
        "command": "PYTHONPATH=. python benchmarks/vllm_learned.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "cycles": got["cycles"],
        "windows": uncertainty(lv.perf).samples,
        "prior": lv.perf.prior_source,
        "load_avg": got["load_avg"],
        "wall_s": round(time.monotonic() - started, 1),
        "step": rows,
        "prefill": {"learned_tokens_per_s": p.prefill_tokens_per_s, "fit_tokens_per_s": prefill.prefill_tokens_per_s,
                    "rel": p.prefill_tokens_per_s / prefill.prefill_tokens_per_s - 1.0},
        "learned_params": {"alpha_ms": p.alpha_ms, "beta_ms": p.beta_ms, "gamma_ms_per_1k_kv": p.gamma_ms_per_1k_kv},
        "fits": {k: dataclasses.asdict(v) for k, v in fits.items()} | {"prefill": dataclasses.asdict(prefill)},
    }  # fmt: skip
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "learned.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "fits"}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    main()
