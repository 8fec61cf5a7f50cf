"""Analyzer V2: token capacity and the cost-aware optimizer (wva-behaviour.md 3.3)."""

from __future__ import annotations

import pytest

from tests.core.builders import V, saturation, snapshot
from wva_ray.core import decide
from wva_ray.core.analyzers.v2 import derived_k2, output_bucket, vllm_arg

V2 = saturation(analyzerName="saturation")


def run(*variants: V, config: dict[str, object] = V2, **extra: object) -> dict[str, int]:
    return {d.name: d.desired_replicas for d in decide(snapshot(*variants, config=config, **extra)).decisions}


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        pytest.param(["--max-num-seqs", "64"], "--max-num-seqs", "64", id="separate"),
        pytest.param(["--max-num-seqs=64"], "--max-num-seqs", "64", id="equals"),
        pytest.param(["--max_num_seqs", "64"], "--max-num-seqs", "64", id="underscore"),
        pytest.param(["vllm serve m --max-num-seqs 32"], "--max-num-seqs", "32", id="shell-string"),
        pytest.param(["--other", "1"], "--max-num-seqs", None, id="absent"),
    ],
)
def test_vllm_arg(args: list[str], name: str, value: str | None) -> None:
    assert vllm_arg(args, name) == value


def test_derived_k2_formula() -> None:
    # B=8192, S=256, I=512, O=128: min(8192*128/640, 256) = 256 -> floor(256 * (512 + 64)) = 147456
    assert derived_k2([], 512, 128) == 147456
    # B=2048: min(2048*128/640=409.6, 256)=256 -> same; B=512: 102.4 -> floor(102.4*576)=58982
    assert derived_k2(["--max-num-batched-tokens", "512"], 512, 128) == 58982
    assert derived_k2([], 0, 0) is None


@pytest.mark.parametrize(("out", "bucket"), [(50, "short"), (99.9, "short"), (100, "medium"), (500, "long")])
def test_output_bucket(out: float, bucket: str) -> None:
    assert output_bucket(out) == bucket


def test_scale_up_adds_enough_replicas_at_once() -> None:
    # T=16000, k1=12800; kv .9 -> 14400 in use per pod, queue 6 >= 5 -> observed k2 = 14400; cap = 12800.
    # demand = 2*(14400 + 6*100) = 30000; required = 30000/.85 - 2*12800 = 9694 -> ceil(9694/12800) = 1
    v = V("a", [(0.9, 6), (0.9, 6)], kv_tokens=16000, avg_in=100, avg_out=50)
    assert run(v) == {"a": 3}


def test_scale_up_prefers_cost_per_capacity() -> None:
    hot = [(0.9, 6), (0.9, 6)]
    cheap_small = V("small", hot, cost="5", kv_tokens=4000, avg_in=100, avg_out=50)
    pricey_big = V("big", hot, cost="8", kv_tokens=16000, avg_in=100, avg_out=50, accelerator="A100")
    got = run(cheap_small, pricey_big)
    assert got["big"] > 2 and got["small"] == 2  # 8/12800 per token beats 5/3200


def test_scale_down_most_expensive_keeps_cheapest_floor() -> None:
    idle = [(0.01, 0), (0.01, 0)]
    got = run(
        V("cheap", idle, cost="5", kv_tokens=16000, avg_in=100, avg_out=50),
        V("pricey", idle, cost="9", kv_tokens=16000, avg_in=100, avg_out=50, accelerator="A100"),
    )
    assert got == {"cheap": 1, "pricey": 0}


def test_history_is_returned_and_reused() -> None:
    v = V("a", [(0.9, 6), (0.9, 6)], kv_tokens=16000, avg_in=100, avg_out=50)
    plan = decide(snapshot(v, config=V2))
    assert plan.state.capacity_history == {"m1|H100|short": [14400.0, 14400.0]}
    again = decide(snapshot(v, config=V2, state=plan.state.model_dump(by_alias=True)))
    assert again.state.capacity_history["m1|H100|short"] == [14400.0] * 4


def test_huge_queue_stays_finite() -> None:
    v = V("a", [(0.5, 1e300), (0.5, 0)], kv_tokens=16000, avg_in=1e300, avg_out=50, max_replicas=50)
    assert run(v) == {"a": 50}
