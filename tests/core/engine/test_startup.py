"""Start-up delay: each pod counted once, converges to what is observed, conservative before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wva_ray.core.analyzers.learned import startup


def test_default_is_conservative() -> None:
    s = startup.StartupState()
    assert s.planning_s() >= 300.0 and s.samples == 0


def test_converges_to_observed_delays() -> None:
    s = startup.StartupState()
    t = 0.0
    for _ in range(15):
        t += 1000.0
        s, fresh = startup.observe(s, [(t - 120.0, t)])
        assert fresh == 1
    assert abs(s.mean_s - 120.0) < 0.1 * 120.0
    assert s.planning_s() < 200.0


def test_each_pod_counted_once() -> None:
    s, n1 = startup.observe(startup.StartupState(), [(0.0, 100.0), (10.0, 200.0)])
    s2, n2 = startup.observe(s, [(0.0, 100.0), (10.0, 200.0)])
    assert (n1, n2) == (2, 0) and s2 == s


def test_pods_ready_at_creation_say_nothing() -> None:
    s, n = startup.observe(startup.StartupState(), [(5.0, 5.0)])
    assert n == 0 and s.samples == 0


def test_round_trip() -> None:
    s, _ = startup.observe(startup.StartupState(), [(0.0, 90.0)])
    assert startup.StartupState.from_dict(s.to_dict()) == s


@given(st.lists(st.floats(2.0, 1000.0), min_size=1, max_size=30))
def test_estimate_stays_within_observed_and_prior_range(delays: list[float]) -> None:
    s = startup.StartupState()
    pods = [(i * 5000.0, i * 5000.0 + d) for i, d in enumerate(delays)]
    s, _ = startup.observe(s, pods)
    lo, hi = min([*delays, startup.DEFAULT_STARTUP_S]), max([*delays, startup.DEFAULT_STARTUP_S])
    assert lo - 1e-6 <= s.mean_s <= hi + 1e-6
