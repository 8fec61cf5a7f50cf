"""ReplicaModel against closed forms and hand-computed cases (no clock: virtual seconds)."""

from __future__ import annotations

import pytest

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import RHO_WINDOW_S, ReplicaModel


def _profile(**over: float) -> Profile:
    base = dict(
        id="t/T",
        model="t",
        accelerator="T",
        gpus=1,
        alpha_ms=10.0,
        beta_ms=0.0,
        gamma_ms_per_1k_kv=0.0,
        prefill_tokens_per_s=1000.0,
        kv_capacity_tokens=10000,
        max_num_seqs=4,
        startup_s=0.0,
        relative_cost=1.0,
    )
    base.update(over)
    return Profile.model_validate(base)


def test_single_request_closed_form() -> None:
    prof = _profile()
    rep = ReplicaModel(prof)
    rep.submit("a", 100, 11, 0.0)
    done = rep.advance(100.0)
    assert len(done) == 1
    c = done[0]
    prefill = 100 / 1000.0
    rho = 100 / (RHO_WINDOW_S * 1000.0)  # its own prompt is in the prefill window
    step = 0.010 / (1 - rho)
    assert c.ttft_s == pytest.approx(prefill + step)
    assert c.itl_s == pytest.approx(step)
    assert c.e2e_s == pytest.approx(prefill + 11 * step)
    st = rep.state()
    assert (st.running, st.waiting, st.success_total, st.prompt_tokens_total) == (0, 0, 1, 100)
    assert st.generation_tokens_total == pytest.approx(11)


def test_rho_window_expires_and_decode_speeds_up() -> None:
    prof = _profile()
    rep = ReplicaModel(prof)
    rep.submit("a", 100, 2000, 0.0)  # decodes for ~20 s, far beyond the 5 s window
    (c,) = rep.advance(1000.0)
    # most tokens come after the prompt left the window: mean ITL close to alpha
    assert 0.010 < c.itl_s < 0.0101


def test_itl_grows_with_batch_and_kv() -> None:
    prof = _profile(beta_ms=1.0, gamma_ms_per_1k_kv=1.0, prefill_tokens_per_s=1e9)
    rep = ReplicaModel(prof)
    for i in range(4):
        rep.submit(i, 1000, 3, 0.0)
    done = rep.advance(10.0)
    assert len(done) == 4
    # 4 decoding, KV ~4000 tokens: step ~= 10 + 4 + 4 ms
    assert all(c.itl_s == pytest.approx(0.018, rel=0.01) for c in done)


def test_max_num_seqs_queues_the_rest() -> None:
    rep = ReplicaModel(_profile(max_num_seqs=2))
    for i in range(5):
        rep.submit(i, 10, 100, 0.0)
    st = rep.state()
    assert (st.running, st.waiting) == (2, 3)
    done = rep.advance(1000.0)
    assert [c.request_id for c in done][:2] == [0, 1]
    assert all(c.queue_s > 0 for c in done if c.request_id in (2, 3, 4))


def test_kv_admission_limit_at_ninety_percent() -> None:
    rep = ReplicaModel(_profile(kv_capacity_tokens=1000, max_num_seqs=100, prefill_tokens_per_s=1e6))
    rep.submit("a", 500, 50, 0.0)
    rep.submit("b", 400, 50, 0.0)  # 900 <= 0.9 * 1000: admitted
    rep.submit("c", 10, 50, 0.0)  # would exceed 900: waits
    st = rep.state()
    assert (st.running, st.waiting) == (2, 1)
    assert st.kv_usage_ratio == pytest.approx(0.9)


def test_oversized_prompt_is_admitted_when_empty() -> None:
    rep = ReplicaModel(_profile(kv_capacity_tokens=100))
    rep.submit("huge", 500, 1, 0.0)
    assert rep.running == 1
    (c,) = rep.advance(100.0)
    assert c.output_tokens == 1 and c.itl_s == 0.0


def test_abort_waiting_drops_old_queued_requests_only() -> None:
    rep = ReplicaModel(_profile(max_num_seqs=1))
    rep.submit("run", 10, 1000, 0.0)
    rep.submit("old", 10, 10, 1.0)
    rep.submit("new", 10, 10, 5.0)
    assert rep.abort_waiting(3.0) == ["old"]
    assert (rep.running, rep.waiting) == (1, 1)


def test_invalid_token_counts_name_the_field() -> None:
    rep = ReplicaModel(_profile())
    with pytest.raises(ValueError, match="output_tokens"):
        rep.submit("x", 10, 0, 0.0)
    with pytest.raises(ValueError, match="prompt_tokens"):
        rep.submit("x", -1, 5, 0.0)


def test_next_event_and_idle() -> None:
    rep = ReplicaModel(_profile())
    assert rep.next_event_s() is None
    rep.submit("a", 100, 5, 2.0)
    assert rep.next_event_s() == pytest.approx(2.1)
    rep.advance(50.0)
    assert rep.next_event_s() is None
