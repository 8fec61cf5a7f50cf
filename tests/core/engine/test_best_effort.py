"""Analyzers `learned` and `slo` with a variant that cannot meet the class's targets at any rate (a slow
accelerator whose own prefill exceeds the TTFT target): its best-effort capacity looks cheaper than a variant that
meets them, yet the load goes to the one that meets them, and the decision names the variant passed over."""

from __future__ import annotations

import re

import pytest

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.core.analyzers.learned.analyzer import EngineSettings, GroupInput, VariantInput, analyze
from wva_ray.core.analyzers.learned.state import EngineState
from wva_ray.core.analyzers.slo.analyzer import SloModelInput, SloModelState, SloSettings, SloVariantInput, analyze_slo
from wva_ray.core.analyzers.slo.perf_model import PerfParams

H100 = PerfParams(7.4, 0.015, 0.041, 35000, 1024, 400000, 8192)
L40S = PerfParams(28.8, 0.040, 0.158, 13000, 256, 190000, 8192)
PROMPT, OUTPUT = 1155.0, 211.0
TIGHT = ResolvedTarget("Tight", 50, 50.0, 250.0, "test")  # L40S: prefill alone misses TTFT p95 250 ms
LOOSE = ResolvedTarget("Loose", 50, 50.0, 1000.0, "test")  # both meet it


def _learned(key: str, params: PerfParams, cost: float, current: int, rate: float) -> VariantInput:
    done = rate * 60.0
    return VariantInput(
        key=f"llm/{key}",
        name=key,
        model_id="llama",
        accelerator=key.split("-")[-1].upper(),
        cost_per_replica=cost,
        current=current,
        ready=current,
        pending=0,
        limits=params,
        profile=params,
        profile_source="test",
        configured_startup_s=120.0,
        completions_per_s=rate,
        prompt_tokens=done * PROMPT,
        generation_tokens=done * OUTPUT,
        completions=done,
    )


def _slo(key: str, params: PerfParams, cost: float, current: int, rate: float) -> SloVariantInput:
    return SloVariantInput(
        key=f"llm/{key}",
        accelerator=key.split("-")[-1].upper(),
        cost_per_replica=cost,
        current=current,
        ready=current,
        pending=0,
        params=params,
        startup_s=120.0,
        completions_per_s=rate,
        avg_input_tokens=PROMPT,
        avg_output_tokens=OUTPUT,
    )


def _run(analyzer: str, target: ResolvedTarget, l40s_cost: float) -> tuple[dict[str, int], dict[str, float], str, str]:
    """(targets, cost per capacity, the L40S's reason, all steps) for 40 req/s on 1 H100 + 0 L40S."""
    if analyzer == "learned":
        vs = (_learned("m-h100", H100, 1.0, 1, 40.0), _learned("m-l40s", L40S, l40s_cost, 0, 0.0))
        res = analyze(GroupInput("llm", "llama", target, vs), EngineState(), EngineSettings(), 0.0)
        return res.targets, res.cost_per_capacity, res.reasons["llm/m-l40s"], "\n".join(res.steps)
    ss = (_slo("m-h100", H100, 1.0, 1, 40.0), _slo("m-l40s", L40S, l40s_cost, 0, 0.0))
    out = analyze_slo(SloModelInput("llm", "llama", target, ss), SloModelState(), SloSettings(), 0.0)
    return out.targets, out.cost_per_capacity, out.reasons["llm/m-l40s"], "\n".join(out.steps)


@pytest.mark.parametrize("analyzer", [pytest.param("learned", id="learned"), pytest.param("slo", id="slo")])
@pytest.mark.parametrize(
    ("target", "l40s_cost", "l40s_gets_load", "passed_over"),
    [
        pytest.param(TIGHT, 0.05, False, True, id="tight class: the cheap-looking L40S is passed over"),
        pytest.param(LOOSE, 0.05, True, False, id="loose class: both meet it, the cheaper per capacity wins"),
    ],
)
def test_the_variant_that_meets_the_targets_gets_the_load(
    analyzer: str, target: ResolvedTarget, l40s_cost: float, l40s_gets_load: bool, passed_over: bool
) -> None:
    targets, cpc, reason, steps = _run(analyzer, target, l40s_cost)
    assert cpc["llm/m-l40s"] < cpc["llm/m-h100"], cpc  # by cost per capacity alone the L40S would get the load
    assert (targets["llm/m-l40s"] > 0) is l40s_gets_load, (targets, steps)
    assert targets["llm/m-h100"] > 1 or l40s_gets_load
    assert ("m-l40s passed over" in steps) is passed_over, steps
    assert ("cannot meet the class's targets here" in reason) is passed_over, reason


def test_an_unsure_capable_variant_fills_to_its_per_cycle_limit_before_the_incapable_one() -> None:
    """Llama-3.1-70B TP4 rows, strict ITL 25 ms: A100x4's decode step alone (30 ms) misses it, its best effort
    (70 % of the hard limit) is far cheaper per req/s than H100x4's SLO rate with a fresh model's uncertainty; H100x4
    still gets its per-cycle limit (an unsure model: +4) first, and only the rest goes to A100x4."""
    h70 = PerfParams(19.4, 0.035, 0.022, 12000, 1024, 410_000, 8192)
    a70 = PerfParams(30.0, 0.084, 0.036, 5000, 256, 410_000, 2048)
    vs = (_learned("m-h100", h70, 4.0, 1, 3.0), _learned("m-a100", a70, 1.0, 0, 0.0))
    strict = ResolvedTarget("Strict", 50, 25.0, 500.0, "test")
    res = analyze(GroupInput("llm", "llama", strict, vs), EngineState(), EngineSettings(), 0.0)
    assert res.cost_per_capacity["llm/m-a100"] < res.cost_per_capacity["llm/m-h100"], res.cost_per_capacity
    ups = [line for line in res.steps if line.startswith("sizing: +")]
    assert [line.split(" (")[0] for line in ups] == ["sizing: +4 on llm/m-h100", "sizing: +2 on llm/m-a100"], ups
    assert "the variants that can are full" in ups[1]
    assert "cannot meet the class's targets here" in res.reasons["llm/m-a100"]
    assert "best effort" not in res.reasons["llm/m-h100"]


@pytest.mark.parametrize("itl_ms", [pytest.param(21.0, id="itl-21ms"), pytest.param(22.0, id="itl-22ms")])
def test_uncertainty_never_adds_capacity(itl_ms: float) -> None:
    """Llama-3.1-70B TP4 on H100x4 at ITL 21-22 ms: the mean model just meets it at a low rate while a fresh model's
    pessimistic bound misses it even at the median, and that bound's fallback (70 % of the hard limit, 5.8 req/s)
    was sized as if it were capacity: one replica for 3 req/s. The mean's rate caps it, so the H100x4 pool grows."""
    h70 = PerfParams(19.4, 0.035, 0.022, 12000, 1024, 410_000, 8192)
    vs = (_learned("m-h100", h70, 4.0, 1, 3.0),)
    tight = ResolvedTarget("Strict", 50, itl_ms, 500.0, "test")
    res = analyze(GroupInput("llm", "llama", tight, vs), EngineState(), EngineSettings(), 0.0)
    (line,) = [s for s in res.steps if "req/s per replica at SLO" in s]
    at_slo, at_mean = (float(x) for x in re.findall(r"[0-9]+\.[0-9]+", line)[:2])  # "<x> req/s ... (<y> at the mean"
    assert at_slo <= at_mean < 1.0 and "capped at the mean model's" in line, line
    assert res.targets["llm/m-h100"] >= 5, (res.targets, res.steps)  # +4 (an unsure model's per-cycle limit)
