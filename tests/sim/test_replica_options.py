"""The calibration's switches of the replica model (ReplicaOptions.request_overhead_s, prefill_stall): closed forms
on a profile with round numbers (step 10 ms at any batch, prefill 1,000 tokens/s), and off means the default model."""

from __future__ import annotations

import pytest

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import Completed, ReplicaModel, ReplicaOptions

ROUND = Profile(
    id="round/CPU", model="round", accelerator="CPU", gpus=1, alpha_ms=10.0, beta_ms=0.0, gamma_ms_per_1k_kv=0.0,
    prefill_tokens_per_s=1000.0, kv_capacity_tokens=100_000, max_num_seqs=8, max_num_batched_tokens=2048,
    startup_s=0.0, relative_cost=1.0,
)  # fmt: skip


def _by_id(done: list[Completed]) -> dict[object, Completed]:
    return {c.request_id: c for c in done}


@pytest.mark.parametrize(
    ("overhead_s", "prompt", "output", "ttft_s"),
    [
        (0.0, 100, 11, 0.1 + 0.01),  # prefill + one step
        (0.2, 100, 11, 0.2 + 0.1 + 0.01),
        (0.2, 500, 1, 0.2 + 0.5 + 0.01),
        (0.05, 0, 5, 0.05 + 0.01),
    ],
)
def test_request_overhead_adds_to_ttft_and_e2e_of_a_lone_request(
    overhead_s: float, prompt: int, output: int, ttft_s: float
) -> None:
    rep = ReplicaModel(ROUND, options=ReplicaOptions(request_overhead_s=overhead_s, prefill_slows_decode=False))
    rep.submit("a", prompt, output, 1.0)
    (done,) = rep.advance(100.0)
    assert done.ttft_s == pytest.approx(ttft_s)
    assert done.e2e_s == pytest.approx(ttft_s + (output - 1) * 0.01)
    assert done.queue_s == pytest.approx(0.0)


def test_request_overhead_keeps_the_request_out_of_the_queue_until_it_has_passed() -> None:
    rep = ReplicaModel(
        ROUND.model_copy(update={"max_num_seqs": 1}),
        options=ReplicaOptions(request_overhead_s=0.2, prefill_slows_decode=False),
    )
    rep.submit("a", 100, 11, 0.0)
    rep.submit("b", 100, 11, 0.0)
    rep.advance(0.1)
    assert (rep.running, rep.waiting, rep.load) == (0, 0, 2)  # on the way in: counted by a router only
    assert rep.next_event_s() == pytest.approx(0.2)
    rep.advance(0.25)
    assert (rep.running, rep.waiting) == (1, 1)
    done = _by_id(rep.advance(100.0))
    assert done["a"].e2e_s == pytest.approx(0.2 + 0.1 + 0.01 + 10 * 0.01)
    assert done["b"].queue_s == pytest.approx(done["a"].e2e_s - 0.2)  # queued from 0.2 until a finished


def test_request_overhead_rejects_negative() -> None:
    with pytest.raises(ValueError, match="request_overhead_s"):
        ReplicaOptions(request_overhead_s=-0.1)


# A decodes (prompt 10, 101 tokens) from t=0; B (500-token prompt) arrives at 0.505 s, mid-decode.
# Per-step stalls: A's first token ends its 20 ms prefill step (10 ms step + 10 tokens); while B prefills, every
# step carries a chunk of c = min(budget - 1, 500) tokens and lasts 10 ms + c ms, so B's TTFT is
# (500 / c) x (10 ms + c ms) and A is delayed by exactly B's prefill time (0.5 s) whatever the chunk size.
@pytest.mark.parametrize(
    ("budget", "b_ttft_s"),
    [
        (2048, 0.01 + 0.5),  # the whole prompt in one step
        (101, 5 * (0.01 + 0.1)),  # 100-token chunks: five stretched steps
        (51, 10 * (0.01 + 0.05)),
    ],
)
def test_prefill_stall_stretches_the_steps_that_carry_a_prompt_chunk(budget: int, b_ttft_s: float) -> None:
    prof = ROUND.model_copy(update={"max_num_batched_tokens": budget})
    rep = ReplicaModel(prof, options=ReplicaOptions(prefill_stall=True))
    rep.submit("a", 10, 101, 0.0)
    rep.submit("b", 500, 2, 0.505)
    done = _by_id(rep.advance(100.0))
    assert done["a"].ttft_s == pytest.approx(0.02)
    assert done["b"].ttft_s == pytest.approx(b_ttft_s)
    assert done["a"].e2e_s == pytest.approx(0.02 + 100 * 0.01 + 0.5)
    assert done["a"].itl_s == pytest.approx((100 * 0.01 + 0.5) / 100)


def test_prefill_stall_lone_request_and_output_of_one() -> None:
    rep = ReplicaModel(ROUND, options=ReplicaOptions(prefill_stall=True, request_overhead_s=0.1))
    rep.submit("one", 300, 1, 0.0)
    rep.submit("two", 300, 3, 5.0)
    done = _by_id(rep.advance(100.0))
    assert done["one"].ttft_s == pytest.approx(0.1 + 0.01 + 0.3) == pytest.approx(done["one"].e2e_s)
    assert done["two"].e2e_s == pytest.approx(0.1 + 0.01 + 0.3 + 2 * 0.01)
    assert rep.state().generation_tokens_total == pytest.approx(4.0)


def test_switches_off_are_the_default_model() -> None:
    def run(opt: ReplicaOptions) -> list[tuple[float, float]]:
        rep = ReplicaModel(ROUND, options=opt)
        for i in range(30):
            rep.submit(i, 50 + 37 * i % 400, 5 + 13 * i % 60, i * 0.07)
        return [(c.ttft_s, c.e2e_s) for c in rep.advance(1000.0)]

    default = run(ReplicaOptions())
    assert run(ReplicaOptions(request_overhead_s=0.0, prefill_stall=False)) == default
    assert run(ReplicaOptions(prefill_stall=True)) != default
    assert run(ReplicaOptions(request_overhead_s=0.01)) != default
