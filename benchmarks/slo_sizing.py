"""Benchmark: time to size one variant with analyzer `slo` (target < 1 ms).

Measures, per call: (a) `max_rate` alone (replica model built + capacity search), (b) `analyze_slo` for a model
with one variant (mix, capacity, rate update, sizing, explanation), (c) the same with an estimator window.
Token mixes vary per call (the cache-free path a real cycle takes). Prints median and p99 in microseconds.

Run: .venv/bin/python benchmarks/slo_sizing.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.slo.analyzer import SloModelInput, SloModelState, SloSettings, SloVariantInput, analyze_slo
from wva_ray.core.analyzers.slo.capacity import max_rate
from wva_ray.core.analyzers.slo.estimator import PerfObservation
from wva_ray.core.analyzers.slo.perf_model import LatencyTargets, PerfParams, ReplicaPerfModel, TokenMix

H100 = PerfParams(7.4, 0.015, 0.041, 35000, 1024, 400000, 8192)
TARGET = ResolvedTarget("Standard", 50, 50.0, 1000.0, "bench")


def _time(fn: Callable[[int], object], calls: int) -> tuple[float, float]:
    samples = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ins = rng.uniform(200, 4000, args.calls)
    outs = rng.uniform(20, 500, args.calls)
    rates = rng.uniform(1, 100, args.calls)
    targets = LatencyTargets(50.0, 1000.0)

    def capacity_only(i: int) -> object:
        return max_rate(ReplicaPerfModel(H100, TokenMix(float(ins[i]), float(outs[i]))), targets)

    def variant(i: int, window: bool = False) -> object:
        obs = None
        if window:
            obs = PerfObservation(20.0, 200.0, 50.0, 50.0 * ins[i], float(rates[i]) / 4, float(ins[i]), float(outs[i]))
        v = SloVariantInput(
            key="ns/v",
            accelerator="H100",
            cost_per_replica=1.0,
            current=3,
            ready=3,
            pending=0,
            params=H100,
            completions_per_s=float(rates[i]),
            avg_input_tokens=float(ins[i]),
            avg_output_tokens=float(outs[i]),
            window=obs,
        )
        return analyze_slo(SloModelInput("ns", "m", TARGET, (v,)), SloModelState(), SloSettings(), 30.0 * i)

    for name, fn in (
        ("max_rate (model + capacity search)", capacity_only),
        ("analyze_slo, 1 variant", variant),
        ("analyze_slo, 1 variant + estimator window", lambda i: variant(i, True)),
    ):
        fn(0)  # warm imports
        med, p99 = _time(fn, args.calls)
        print(f"{name:45s} median {med:7.0f} us   p99 {p99:7.0f} us   ({args.calls} calls)")


if __name__ == "__main__":
    main()
