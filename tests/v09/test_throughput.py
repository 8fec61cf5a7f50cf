"""The throughput analyzer (upstream-v0.9.md section 3): the ITL fit, supply and demand in tokens/s, the cold start
in KV tokens (upstream's e2e scenario 3), and the samples it carries across cycles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.builders import V, snapshot_dict
from wva_ray.api.config import SaturationSettings
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.analyzers.base import AnalyzerSettings, GroupState, ModelGroup, PodRows, slo_context
from wva_ray.core.analyzers.registry import analyzer_for
from wva_ray.core.analyzers.throughput import K_SAT, MIN_SAMPLES, fit_itl, fit_key, unpack
from wva_ray.core.variants import build_variants


@pytest.mark.parametrize(
    ("samples", "a", "b"),
    [
        ([(k / 10, 0.01 + 0.02 * k / 10) for k in range(10)], 0.02, 0.01),  # exact line
        ([(0.5, 0.03)] * 12, 0.0, 0.03),  # one k: flat at the mean
        ([(0.1, 0.01), (0.9, 0.03)] * 5, 0.025, 0.0075),  # two clusters
    ],
)
def test_itl_fit_is_ordinary_least_squares(samples: list[tuple[float, float]], a: float, b: float) -> None:
    fit = fit_itl(samples)
    assert fit is not None and fit.a == pytest.approx(a) and fit.b == pytest.approx(b)


def test_no_fit_below_ten_samples() -> None:
    assert fit_itl([(0.1 * i, 0.01) for i in range(MIN_SAMPLES - 1)]) is None


def _size(snap: Snapshot, history: dict[str, list[float]] | None = None, **settings: Any) -> Any:
    variants = tuple(build_variants(snap))
    s = AnalyzerSettings(SaturationSettings(**settings), slo_context({}, {}))
    group = ModelGroup("llm", "m1", variants, snap.now, PodRows(snap.metrics, snap.pods))
    return analyzer_for("throughput").size(group, s, GroupState(history or {}))


def _with_itl(data: dict[str, Any], itl: float, rate: float) -> Snapshot:
    for row in data["metrics"]:
        row.update(itlSecondsSum=itl * 1000, itlCount=1000, arrivalRate=rate, windowSeconds=60)
    return Snapshot.model_validate(data)


def test_cold_start_is_upstreams_e2e_arithmetic() -> None:
    # KV max 8 x threshold 0.8 = 6.4 per replica; at kv 0.9 demand 0.9*8/0.85 = 8.47 > 6.4 -> above min
    snap = Snapshot.model_validate(snapshot_dict(V("a", [(0.9, 0.0)], kv_tokens=16, avg_in=4, avg_out=4)))
    sizing = _size(snap, kv_cache_threshold=0.8)
    assert sizing.capacity.unit == "kv-tokens"
    assert sizing.capacity.per_replica["llm/a"] == pytest.approx(16 * 0.8)
    low_data = snapshot_dict(V("a", [(0.9, 0.0)], kv_tokens=16, avg_in=4, avg_out=4))
    low_data["metrics"][0].update(numGpuBlocks=1, blockSize=8)  # 8 KV tokens
    low = Snapshot.model_validate(low_data)
    low_sizing = _size(low, kv_cache_threshold=0.8)
    assert low_sizing.capacity.per_replica["llm/a"] == pytest.approx(6.4)
    assert low_sizing.capacity.required == pytest.approx(0.9 * 8 / K_SAT / 0.85 - 6.4)
    assert low_sizing.targets["llm/a"] == 2


# one H100 pod, 16000 KV tokens, I=500 O=200 -> KVreq 600; ITL 20 ms flat -> mu = 0.85*16000/600/0.02 = 1133 tok/s
MU = 0.85 * 16000 / 600 / 0.02


@pytest.mark.parametrize(
    ("rate", "pods", "want"),
    [
        (1.0, 1, 1),  # demand 200 tok/s: well under one replica -> steady
        (10.0, 1, 3),  # 2000 tok/s / 0.85 = 2353 -> 3 replicas of 1133
        (1.0, 4, 2),  # 4 replicas, 800 tok/s: spare 4*1133 - 800/0.7 = 3390 -> floor(3390/1133) = 2 given back
    ],
)
def test_warm_sizing_in_tokens_per_second(rate: float, pods: int, want: int) -> None:
    v = V("a", [(0.5, 0.0)] * pods, kv_tokens=16000, avg_in=500, avg_out=200)
    snap = _with_itl(snapshot_dict(v), itl=0.02, rate=rate)
    history = {fit_key("m1", "H100"): [c for _ in range(10) for c in (0.5, 0.02)]}
    sizing = _size(snap, history)
    assert sizing.capacity.unit == "tokens/s"
    assert sizing.capacity.per_replica["llm/a"] == pytest.approx(MU)
    assert sizing.targets["llm/a"] == want


def test_samples_are_carried_and_capped() -> None:
    snap = _with_itl(snapshot_dict(V("a", [(0.4, 0.0), (0.6, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200)), 0.02, 1)
    key = fit_key("m1", "H100")
    history: dict[str, list[float]] = {}
    for _ in range(15):
        history.update(_size(snap, history).history)
    assert len(unpack(history[key])) == 20
    assert _size(snap, history).capacity.unit == "tokens/s"


def test_queue_adds_demand() -> None:
    base = V("a", [(0.5, 0.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    queued = V("a", [(0.5, 50.0)], kv_tokens=16000, avg_in=500, avg_out=200)
    history = {fit_key("m1", "H100"): [c for _ in range(10) for c in (0.5, 0.02)]}
    calm = _size(_with_itl(snapshot_dict(base), 0.02, 1.0), history)
    busy = _size(_with_itl(snapshot_dict(queued), 0.02, 1.0), history)
    # 50 queued / (2 * 0.02 s) = 1250 tokens/s on top of 1 req/s * 200 tokens
    assert calm.capacity.required == 0 and calm.targets["llm/a"] == 1
    assert busy.capacity.required == pytest.approx((200 + 1250) / 0.85 - MU)
    assert busy.targets["llm/a"] == 2
