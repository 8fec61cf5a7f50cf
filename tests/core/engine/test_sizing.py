"""Sizing: distribution not mean, cheapest capacity first, scale-down only after it paid back, no flapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wva_ray.core.analyzers.learned import sizing as siz

S = siz.SizingSettings()


def cap(key: str, rate: float, current: int, cost: float = 10.0, pending: int = 0, **kw: object) -> siz.Capacity:
    return siz.Capacity(key, cost, rate, current, current - pending, pending, 180.0, **kw)  # type: ignore[arg-type]


def test_headroom_grows_with_spread() -> None:
    smooth = siz.planned_rate(50.0, 50.0, 1.0, 0.0, 210.0, S)
    bursty = siz.planned_rate(50.0, 50.0, 15.0, 0.0, 210.0, S)
    assert 50.0 < smooth < bursty


def test_up_on_the_cheapest_capacity_first() -> None:
    vs = [cap("a", 10.0, 1, cost=10.0), cap("b", 4.0, 1, cost=3.0)]  # b: 0.75 per req/s, a: 1.0
    p = siz.size(vs, 30.0, siz.DownState(), 0.0, S)
    assert p.targets == {"a": 1, "b": 5}  # supply 14, 16 more = 4 x 4


def test_up_spills_to_the_next_variant_at_max() -> None:
    vs = [cap("a", 10.0, 1), cap("b", 10.0, 1, cost=5.0, max_replicas=2)]
    p = siz.size(vs, 50.0, siz.DownState(), 0.0, S)
    assert p.targets == {"a": 3, "b": 2}


def test_pending_replicas_count_as_supply() -> None:
    p = siz.size([cap("a", 10.0, 4, pending=3)], 35.0, siz.DownState(), 0.0, S)
    assert p.targets == {"a": 4}


def test_scale_down_waits_for_the_payback_window() -> None:
    vs = [cap("a", 10.0, 5)]
    down = siz.DownState()
    window = max(S.min_down_s, S.payback_startups * 180.0)
    t = 0.0
    while True:
        p = siz.size(vs, 12.0, down, t, S)
        if p.targets["a"] < 5:
            break
        down = p.down
        t += 30.0
        assert t <= window + 30.0
    assert t >= window and p.targets["a"] == 2  # keeps 12 x 1.1 req/s


def test_a_burst_during_the_window_resets_it() -> None:
    vs = [cap("a", 10.0, 5)]
    p = siz.size(vs, 12.0, siz.DownState(), 0.0, S)
    p = siz.size(vs, 60.0, p.down, 30.0, S)  # back above the smaller fleet: the clock restarts
    assert p.down.since_s is None or p.down.peak_per_s >= 60.0
    p2 = siz.size(vs, 12.0, siz.DownState(), 60.0, S)
    assert p2.targets["a"] == 5


def test_no_scale_down_while_replicas_start() -> None:
    p = siz.size([cap("a", 10.0, 5, pending=1)], 1.0, siz.DownState(since_s=0.0, peaks=((0.0, 1.0),)), 5000.0, S)
    assert p.targets["a"] == 5


@given(st.floats(0, 500), st.integers(1, 20), st.floats(0.5, 30))
def test_never_below_one_replica_and_covers_demand_when_up(planned: float, current: int, rate: float) -> None:
    p = siz.size([cap("a", rate, current)], planned, siz.DownState(), 0.0, S)
    assert p.targets["a"] >= 1
    if planned > current * rate:
        assert p.targets["a"] * rate >= planned - 1e-6


@given(st.lists(st.floats(0, 200), min_size=2, max_size=60))
def test_no_reversal_within_one_startup(series: list[float]) -> None:
    """Scale-ups followed by a scale-down never happen within one start-up delay (pending replicas are starting
    for that long and block it; the window is longer still)."""
    current, pending_until, last_up = 3, -1.0, None
    down = siz.DownState()
    for i, planned in enumerate(series):
        t = 30.0 * i
        pending = current if t < pending_until else 0
        p = siz.size([cap("a", 10.0, current, pending=min(pending, current))], planned, down, t, S)
        down = p.down
        if p.targets["a"] > current:
            last_up, pending_until = t, t + 180.0
        elif p.targets["a"] < current and last_up is not None:
            assert t - last_up >= 180.0
        current = p.targets["a"]


def test_a_removal_stands_until_the_scaler_carries_it_out() -> None:
    """The HPA or KEDA takes a few cycles to act on a lower gauge: meanwhile `current` still counts the replicas
    given back, and the decision must not flip back to the old count."""
    vs = [cap("a", 10.0, 5)]
    p = siz.size(vs, 12.0, siz.DownState(), 0.0, S)
    window = max(S.min_down_s, S.payback_startups * 180.0)
    p = siz.size(vs, 12.0, p.down, window, S)
    assert p.targets["a"] == 2
    for k in range(1, 4):  # not carried out yet: still 5 current
        p = siz.size(vs, 12.0, p.down, window + 30.0 * k, S)
        assert p.targets["a"] == 2
    p = siz.size([cap("a", 10.0, 5)], 40.0, p.down, window + 150.0, S)  # demand back up: the removal is withdrawn
    assert p.targets["a"] == 5


def test_the_fleet_follows_the_sliding_peak_down_in_one_decision() -> None:
    """Measured demand falls from 45 to 12 req/s: once the window holds only the low rates, the fleet goes straight
    to what they need (as the HPA's stabilisation window does), not one removal and a fresh window at a time."""
    window = max(S.min_down_s, S.payback_startups * 180.0)
    down, t = siz.DownState(), 0.0
    targets = []
    for measured in [45.0] * 3 + [12.0] * 12:
        p = siz.size([cap("a", 10.0, 5)], min(measured, 12.0), down, t, S, measured)
        down, t = p.down, t + 30.0
        targets.append(p.targets["a"])
    first_low = 3 * 30.0
    drop = next(i for i, n in enumerate(targets) if n < 5)
    assert drop * 30.0 >= first_low + window - 30.0 and targets[drop] == 2, targets
    assert siz.DownState.from_dict(down.to_dict()) == down


def test_the_window_uses_the_expected_start_up_not_the_planning_quantile() -> None:
    vs = [siz.Capacity("a", 10.0, 10.0, 5, 5, 0, 600.0, payback_s=200.0)]
    p = siz.size(vs, 12.0, siz.DownState(), 0.0, S)
    assert siz.size(vs, 12.0, p.down, 199.0, S).targets["a"] == 5
    assert siz.size(vs, 12.0, p.down, 200.0, S).targets["a"] == 2


@pytest.mark.parametrize(
    ("planned", "measured_peak", "expected"),
    [
        pytest.param(12.0, 12.0, 2, id="both low: down to 1.1 x 12"),
        pytest.param(25.0, 12.0, 3, id="the plan now is higher: it sets the fleet"),
        pytest.param(12.0, 25.0, 3, id="a measured peak in the window is higher: it sets the fleet"),
        pytest.param(12.0, None, 2, id="no measurement yet: the plan alone"),
    ],
)
def test_removal_keeps_the_plan_and_the_measured_peak(
    planned: float, measured_peak: float | None, expected: int
) -> None:
    """The decision after one window (180 s): the peak was measured at 30 s, still inside it."""
    p = siz.size([cap("a", 10.0, 5)], planned, siz.DownState(), 0.0, S)
    for k in range(1, 7):
        p = siz.size([cap("a", 10.0, 5)], planned, p.down, 30.0 * k, S, measured_peak if k == 1 else None)
    assert p.targets["a"] == expected


def test_the_window_restarts_when_another_analyzer_grows_the_fleet() -> None:
    """V2 (through the combination) adds replicas this analyzer did not ask for: the payback window starts afresh,
    so the combined fleet is not taken back down within one window of growing."""
    p = siz.size([cap("a", 10.0, 3)], 12.0, siz.DownState(), 0.0, S, 12.0)
    for k in range(1, 5):
        p = siz.size([cap("a", 10.0, 3)], 12.0, p.down, 30.0 * k, S, 12.0)
    p = siz.size([cap("a", 10.0, 5)], 12.0, p.down, 150.0, S, 12.0)  # grew from 3 to 5
    assert p.down.since_s == 150.0
    for k in range(1, 6):
        p = siz.size([cap("a", 10.0, 5)], 12.0, p.down, 150.0 + 30.0 * k, S, 12.0)
        assert p.targets["a"] == 5
    assert siz.size([cap("a", 10.0, 5)], 12.0, p.down, 330.0, S, 12.0).targets["a"] == 2


def test_replicas_not_ready_hold_the_removal_and_restart_the_window() -> None:
    """A replica must be ready and then unneeded for a whole window before it is given back."""
    p = siz.size([cap("a", 10.0, 5)], 12.0, siz.DownState(), 0.0, S, 12.0)
    p = siz.size([cap("a", 10.0, 5, pending=2)], 12.0, p.down, 120.0, S, 12.0)
    assert p.targets["a"] == 5 and p.down.since_s is None
    p = siz.size([cap("a", 10.0, 5)], 12.0, p.down, 150.0, S, 12.0)
    assert siz.size([cap("a", 10.0, 5)], 12.0, p.down, 300.0, S, 12.0).targets["a"] == 5
    assert siz.size([cap("a", 10.0, 5)], 12.0, p.down, 330.0, S, 12.0).targets["a"] == 2


def test_a_scale_up_stands_until_carried_out() -> None:
    """The scaler acts a few cycles after the decision: a plan that dips back under the supply meanwhile does not
    take the raise back (the gauge had read 3, 2, 3); once carried out, or after one start-up, it is not held."""
    p = siz.size([cap("a", 10.0, 2)], 21.0, siz.DownState(), 0.0, S)
    assert p.targets["a"] == 3
    p = siz.size([cap("a", 10.0, 2)], 19.0, p.down, 2.0, S)  # not carried out yet, plan dipped
    assert p.targets["a"] == 3
    p = siz.size([cap("a", 10.0, 2)], 40.0, p.down, 4.0, S)  # more is needed: it adds on top of the raise
    assert p.targets["a"] == 4
    assert siz.size([cap("a", 10.0, 2)], 19.0, p.down, 4.0 + 180.0, S).targets["a"] == 2  # one start-up later
    q = siz.size([cap("a", 10.0, 4)], 19.0, p.down, 6.0, S)  # carried out
    assert q.down.raised == () and q.targets["a"] == 4


@given(
    st.lists(st.tuples(st.floats(0, 80), st.floats(0, 80) | st.none()), min_size=2, max_size=40),
    st.integers(1, 8),
)
def test_a_removal_keeps_the_plan_and_the_window_peak_covered(
    series: list[tuple[float, float | None]], start: int
) -> None:
    """Whenever replicas are given back: a whole window has passed since the fleet last grew, and the fleet kept
    covers 1.1 x the plan now and 1.1 x every rate measured in the window (so the next cycle's scale-up rule, on
    the same plan, does not take the removal back)."""
    current, down, grew_at = start, siz.DownState(), 0.0
    window = max(S.min_down_s, S.payback_startups * 180.0)
    seen: list[tuple[float, float]] = []
    for i, (planned, measured) in enumerate(series):
        t = 30.0 * i
        if measured is not None:
            seen.append((t, measured))
        p = siz.size([cap("a", 10.0, current)], planned, down, t, S, measured)
        down = p.down
        n = p.targets["a"]
        if n > current:
            grew_at = t
        elif n < current:
            assert t - grew_at >= window
            recent = [r for tm, r in seen if tm > t - window and tm >= (down.since_s or 0.0)]
            assert n * 10.0 >= 1.1 * max([planned, *recent]) - 1e-6
        current = n
    assert siz.DownState.from_dict(down.to_dict()) == down


def _slo_cap(key: str, cost: float, current: int, meets: bool, **kw: object) -> siz.Capacity:
    return cap(key, 10.0, current, cost=cost, meets_slo=meets, **kw)


@pytest.mark.parametrize(
    ("variants", "planned", "expected", "passed_over"),
    [
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True), _slo_cap("l40s", 5.0, 1, False)],
            50.0,
            {"h100": 5, "l40s": 1},
            ["l40s"],
            id="capable wins over an incapable variant cheaper per capacity",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True), _slo_cap("l40s", 5.0, 1, False)],
            15.0,
            {"h100": 2, "l40s": 1},
            ["l40s"],
            id="the incapable replica's capacity does not count while a capable variant can grow",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True, max_replicas=2), _slo_cap("l40s", 5.0, 1, False)],
            25.0,
            {"h100": 2, "l40s": 1},
            ["l40s"],
            id="capable full: the incapable replica's capacity counts again",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True, max_replicas=2), _slo_cap("l40s", 5.0, 1, False)],
            50.0,
            {"h100": 2, "l40s": 3},
            [],
            id="capable at its max: the overflow goes to the incapable one",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True, max_add=1), _slo_cap("l40s", 5.0, 1, False)],
            50.0,
            {"h100": 2, "l40s": 3},
            [],
            id="capable at its per-cycle limit: the rest goes to the incapable one",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, False), _slo_cap("l40s", 5.0, 1, False)],
            50.0,
            {"h100": 1, "l40s": 4},
            [],
            id="none capable: cheapest per capacity as before",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True), _slo_cap("l40s", 20.0, 1, False)],
            50.0,
            {"h100": 5, "l40s": 1},
            [],
            id="incapable and dearer: not named as passed over",
        ),
        pytest.param(
            [_slo_cap("h100", 10.0, 1, True), _slo_cap("l40s", 5.0, 1, False, max_replicas=1)],
            50.0,
            {"h100": 5, "l40s": 1},
            [],
            id="incapable at its max: not named as passed over",
        ),
    ],
)
def test_up_prefers_variants_that_meet_the_targets(
    variants: list[siz.Capacity], planned: float, expected: dict[str, int], passed_over: list[str]
) -> None:
    p = siz.size(variants, planned, siz.DownState(), 0.0, S)
    assert p.targets == expected
    named = [v.key for v in variants if any(line.startswith(f"sizing: {v.key} passed over") for line in p.steps)]
    assert named == passed_over, p.steps
    for v in variants:
        if not v.meets_slo and p.targets[v.key] > v.current and any(c.meets_slo for c in variants):
            assert any(f"on {v.key} " in line and "cannot meet the targets" in line for line in p.steps), p.steps


def test_the_horizon_is_the_first_capable_variants_start_up() -> None:
    fast_incapable = siz.Capacity("l40s", 5.0, 10.0, 1, 1, 0, 60.0, meets_slo=False)
    slow_capable = siz.Capacity("h100", 10.0, 10.0, 1, 1, 0, 300.0)
    assert siz.ranked([fast_incapable, slow_capable]) == [slow_capable, fast_incapable]
    assert siz.size([fast_incapable, slow_capable], 5.0, siz.DownState(), 0.0, S).horizon_s == 300.0 + S.interval_s


@pytest.mark.parametrize(
    ("h100_meets", "l40s_meets", "expected"),
    [
        pytest.param(True, False, {"h100": 3, "l40s": 0}, id="incapable goes at once though cheaper per capacity"),
        pytest.param(True, True, {"h100": 0, "l40s": 2}, id="both capable: dearest per capacity first"),
        pytest.param(False, False, {"h100": 0, "l40s": 2}, id="none capable: dearest per capacity first as before"),
        pytest.param(False, True, {"h100": 0, "l40s": 2}, id="the dear one incapable: it goes first"),
    ],
)
def test_down_gives_back_the_incapable_variant_first(
    h100_meets: bool, l40s_meets: bool, expected: dict[str, int]
) -> None:
    vs = [_slo_cap("h100", 10.0, 3, h100_meets), _slo_cap("l40s", 5.0, 2, l40s_meets)]  # 1.0 vs 0.5 per req/s
    p = siz.size(vs, 12.0, siz.DownState(), 0.0, S)
    p = siz.size(vs, 12.0, p.down, max(S.min_down_s, S.payback_startups * 180.0), S)
    assert p.targets == expected  # keeps 12 x 1.1 req/s: 2 replicas of 10
    incapable_first = h100_meets and not l40s_meets
    # the incapable replicas go in the first cycle (the h100s cover the plan alone), before any window
    first = siz.size(vs, 12.0, siz.DownState(), 0.0, S)
    assert (first.targets == {"h100": 3, "l40s": 0}) == incapable_first, first.steps
    assert any("-2 on l40s" in line and "no payback window" in line for line in first.steps) == incapable_first


_variant = st.tuples(
    st.floats(0.5, 30),  # rate per replica
    st.floats(0.1, 50),  # cost per replica
    st.integers(0, 6),  # current
    st.booleans(),  # meets the targets
    st.integers(0, 8) | st.none(),  # room above current (None: no max)
)


def _variants(
    specs: list[tuple[float, float, int, bool, int | None]], all_meet: bool | None = None
) -> list[siz.Capacity]:
    return [
        siz.Capacity(
            f"v{i}",
            cost,
            rate,
            n,
            n,
            0,
            180.0,
            max_replicas=None if room is None else n + room,
            meets_slo=meets if all_meet is None else all_meet,
        )
        for i, (rate, cost, n, meets, room) in enumerate(specs)
    ]


@given(st.lists(_variant, min_size=1, max_size=4), st.floats(0, 400))
def test_an_incapable_variant_grows_only_once_every_capable_one_is_full(
    specs: list[tuple[float, float, int, bool, int | None]], planned: float
) -> None:
    vs = _variants(specs)
    p = siz.size(vs, planned, siz.DownState(), 0.0, S)
    if any(not v.meets_slo and p.targets[v.key] > v.current for v in vs):
        assert all(p.targets[v.key] == v.max_replicas for v in vs if v.meets_slo), (p.targets, p.steps)


@given(st.lists(_variant, min_size=1, max_size=4), st.floats(0, 400), st.floats(0, 200))
def test_a_group_where_none_meets_the_targets_is_sized_by_cost_alone(
    specs: list[tuple[float, float, int, bool, int | None]], planned: float, later: float
) -> None:
    """All incapable ranks exactly as all capable (today's rule), scaling up and, a window later, down."""
    window = max(S.min_down_s, S.payback_startups * 180.0)
    none, every = _variants(specs, all_meet=False), _variants(specs, all_meet=True)
    p, q = siz.size(none, planned, siz.DownState(), 0.0, S), siz.size(every, planned, siz.DownState(), 0.0, S)
    assert p.targets == q.targets
    assert siz.size(none, later, p.down, window, S).targets == siz.size(every, later, q.down, window, S).targets
