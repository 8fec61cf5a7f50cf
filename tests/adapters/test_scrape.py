"""The direct-scrape MetricsSource: window arithmetic on a fake clock, and real scrapes of emulated pods."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wva_ray.adapters.scrape import (
    PodHistory,
    Point,
    ScrapeMetricsSource,
    ScrapeTarget,
    counter_increase,
    parse_exposition,
    window_row,
)
from wva_ray.api.snapshot import PodMetrics
from wva_ray.core.ports import MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery
from wva_ray.sim.emulator.metrics import PodView, Script, ServedTotals, Signal
from wva_ray.sim.emulator.render import render_exposition
from wva_ray.sim.emulator.server import Emulator, PodSpec

TARGET = ScrapeTarget("ns", "pod-a", "m1", "http://127.0.0.1:1")
P0 = Point(0.0, 0.1, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1000, 16)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _history(points: list[Point], keep_s: float = 600.0) -> PodHistory:
    h = PodHistory(keep_s)
    for p in points:
        h.add(p)
    return h


def test_parse_exposition_of_an_emulator_body() -> None:
    totals = ServedTotals()
    totals.record(200, 20, 0.0, 0.1, 0.01, 0.3)
    totals.record(400, 40, 0.0, 0.1, 0.01, 0.5)
    view = PodView(
        "m1", "0", 3.0, 2.0, 0.42, 600.0, 60.0, dict(totals.success_by_reason), totals.histograms, 900, 32, 0.0
    )
    p = parse_exposition(render_exposition(view).decode(), "m1", 5.0)
    assert (p.kv, p.waiting, p.running) == (0.42, 2.0, 3.0)
    assert (p.prompt_sum, p.prompt_count, p.gen_sum, p.gen_count) == (600.0, 2.0, 60.0, 2.0)
    assert p.success == 2.0 and (p.num_gpu_blocks, p.block_size) == (900, 32)
    with pytest.raises(ValueError, match="model_name='other'"):
        parse_exposition(render_exposition(view).decode(), "other", 5.0)


def test_peak_is_over_the_last_minute_only() -> None:
    pts = [
        replace(P0, t_s=t, kv=kv, waiting=w) for t, kv, w in [(0, 0.95, 9), (50, 0.3, 1), (100, 0.5, 2), (110, 0.4, 0)]
    ]
    row = window_row(TARGET, _history(pts), now_s=110.0, window_s=60.0, rate_window_s=300.0, stale_after_s=30.0)
    assert row is not None
    assert (row.kv_cache_usage, row.queue_length) == (0.5, 2.0)  # the 0.95 at t=0 is older than a minute
    assert row.stale is False and row.running == 1.0


def test_token_averages_over_the_rate_window_with_counter_reset() -> None:
    pts = [
        replace(P0, t_s=0, prompt_sum=1000, prompt_count=10, gen_sum=100, gen_count=10),
        replace(P0, t_s=100, prompt_sum=2000, prompt_count=12, gen_sum=200, gen_count=12),
        replace(P0, t_s=200, prompt_sum=600, prompt_count=2, gen_sum=80, gen_count=2),  # restarted process
    ]
    row = window_row(TARGET, _history(pts), 200.0, 60.0, 300.0, 30.0)
    assert row is not None
    assert row.avg_input_tokens == 300.0 and row.avg_output_tokens == 40.0
    quiet = window_row(TARGET, _history([P0, replace(P0, t_s=10)]), 10.0, 60.0, 300.0, 30.0)
    assert quiet is not None and quiet.avg_input_tokens is None  # no requests: unknown, not 0


def test_stale_after_bound() -> None:
    row = window_row(TARGET, _history([P0]), now_s=31.0, window_s=60.0, rate_window_s=300.0, stale_after_s=30.0)
    assert row is not None and row.stale is True


def test_history_trims_but_keeps_a_point_before_the_window() -> None:
    h = _history([replace(P0, t_s=t) for t in range(0, 1000, 10)], keep_s=100.0)
    assert h.points[0].t_s <= 990 - 100 < h.points[1].t_s


def _window_at(rate_times: list[float] | None, now_s: float = 90.0) -> PodMetrics:
    """Scrapes at controller times 0, 30, 60, 90 (30 completions, 100 prompt tokens and 200 ITL samples each);
    `rate_times`: the same scrapes on the rate clock (None: one clock)."""
    times = [0.0, 30.0, 60.0, 90.0]
    pts = [
        replace(P0, t_s=t, success=10.0 * i, prompt_sum=100.0 * i, itl_sum=2.0 * i, itl_count=200.0 * i)
        for i, t in enumerate(times)
    ]
    if rate_times is not None:
        pts = [replace(p, rate_t_s=r) for p, r in zip(pts, rate_times, strict=True)]
    row = window_row(TARGET, _history(pts), now_s, 60.0, 300.0, 30.0)
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("rate_times", "window_s", "rate"),
    [
        pytest.param(None, 60.0, 20.0 / 60.0, id="one-clock"),
        pytest.param([1000.0, 1030.0, 1060.0, 1090.0], 60.0, 20.0 / 60.0, id="rate-clock-equal-to-the-controller"),
        pytest.param([0.0, 2.5, 5.0, 7.5], 5.0, 4.0, id="controller-12x-faster"),
        pytest.param([0.0, 12.0, 24.0, 36.0], 24.0, 20.0 / 24.0, id="controller-2.5x-faster"),
        # the window is picked on the controller's clock (scrapes at 30..90), measured on the rate clock (7 - 2)
        pytest.param([0.0, 2.0, 6.0, 7.0], 5.0, 4.0, id="uneven-rate-clock"),
    ],
)
def test_rates_are_per_rate_clock_second(rate_times: list[float] | None, window_s: float, rate: float) -> None:
    row = _window_at(rate_times)
    assert row.window_seconds == pytest.approx(window_s)
    assert row.arrival_rate == pytest.approx(rate)
    assert row.completions is not None and row.completions / row.window_seconds == pytest.approx(rate)
    # counts carry no time unit: the same whatever the clocks
    assert (row.completions, row.prompt_tokens, row.itl_count, row.itl_seconds_sum) == (20.0, 200.0, 400.0, 4.0)


@settings(max_examples=60, deadline=None)
@given(
    speed=st.floats(1.0, 60.0),
    gaps=st.lists(st.floats(1.0, 40.0), min_size=1, max_size=8),
    done=st.lists(st.integers(0, 50), min_size=8, max_size=8),
)
def test_a_compressed_controller_clock_scales_rates_only(speed: float, gaps: list[float], done: list[int]) -> None:
    """Controller time running `speed` times faster than the pods' time: every rate is `speed` times the one-clock
    rate (the same requests over fewer pod seconds); everything else in the row is the same."""
    times = [0.0]
    for g in gaps:
        times.append(times[-1] + g)
    success = [float(sum(done[: i + 1])) for i in range(len(times))]
    one = [replace(P0, t_s=t, success=n) for t, n in zip(times, success, strict=True)]
    two = [replace(p, rate_t_s=p.t_s / speed) for p in one]
    now = times[-1]
    a = window_row(TARGET, _history(one), now, 60.0, 300.0, 30.0)
    b = window_row(TARGET, _history(two), now, 60.0, 300.0, 30.0)
    assert a is not None and b is not None
    if a.arrival_rate is None:
        assert b.arrival_rate is None and b.window_seconds is None
        return
    assert b.arrival_rate == pytest.approx(a.arrival_rate * speed)
    assert a.window_seconds is not None and b.window_seconds == pytest.approx(a.window_seconds / speed)
    rates = {"arrival_rate", "window_seconds"}
    assert {k: v for k, v in a.model_dump().items() if k not in rates} == {
        k: v for k, v in b.model_dump().items() if k not in rates
    }


@pytest.mark.parametrize(("old", "new", "inc"), [(5, 8, 3), (8, 2, 2), (4, 4, 0)])
def test_counter_increase(old: float, new: float, inc: float) -> None:
    assert counter_increase(old, new) == inc


A1, A2 = ScrapeTarget("ns", "a-1", "m-a", "http://a1"), ScrapeTarget("ns", "a-2", "m-a", "http://a2")
B1 = ScrapeTarget("ns", "b-1", "m-b", "http://b1")
GA, GB = ModelGroupRef("ns", "m-a"), ModelGroupRef("ns", "m-b")


def _with_history(targets: list[ScrapeTarget]) -> ScrapeMetricsSource:
    src = ScrapeMetricsSource(targets)
    for t in targets:
        src._history[(t.namespace, t.pod)] = _history([P0])
    return src


@pytest.mark.parametrize(
    ("targets", "groups", "pods", "history"),
    [
        pytest.param([A1], None, {"a-1"}, {"a-1"}, id="unscoped: a whole replacement drops every other pod"),
        pytest.param([A1], [GA], {"a-1", "b-1"}, {"a-1", "b-1"}, id="scoped: a pod gone from its group is dropped"),
        pytest.param(
            [], [GB], {"a-1", "a-2"}, {"a-1", "a-2"}, id="scoped: a group with no pod left loses only its own"
        ),
        pytest.param([B1], [GB], {"a-1", "a-2", "b-1"}, {"a-1", "a-2", "b-1"}, id="scoped: the other group untouched"),
    ],
)
def test_set_targets_replaces_only_the_groups_given(
    targets: list[ScrapeTarget], groups: list[ModelGroupRef] | None, pods: set[str], history: set[str]
) -> None:
    src = _with_history([A1, A2, B1])
    src.set_targets(targets, groups)
    assert {pod for _, pod in src._targets} == pods
    assert {pod for _, pod in src._history} == history


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m-a", "m-b", "m-c"]), st.sets(st.integers(0, 3))), max_size=8))
def test_shards_retargeting_one_source_keep_each_others_history(
    calls: list[tuple[str, set[int]]],
) -> None:
    """Whatever order shards re-target their own groups in, a pod that its group still lists keeps its history."""
    src = ScrapeMetricsSource()
    listed: dict[str, set[int]] = {}
    for model, pods in calls:
        src.set_targets(
            [ScrapeTarget("ns", f"{model}-{i}", model, "http://x") for i in pods], [ModelGroupRef("ns", model)]
        )
        for i in pods:
            src._history.setdefault(("ns", f"{model}-{i}"), _history([P0]))
        listed[model] = pods
    expected = {f"{m}-{i}" for m, pods in listed.items() for i in pods}
    assert {pod for _, pod in src._targets} == expected
    assert {pod for _, pod in src._history} == expected


def test_request_counts_unknown_until_history_covers_retention() -> None:
    clock = FakeClock()
    src = ScrapeMetricsSource([TARGET], clock=clock, min_scrape_interval_s=1e9)
    group = ModelGroupRef("ns", "m1")
    query = [ScaleToZeroQuery(group, 600.0)]
    src._last_try[("ns", "pod-a")] = clock.t  # no network: feed the history by hand
    hist = src._history.setdefault(("ns", "pod-a"), PodHistory(600.0))
    hist.add(replace(P0, t_s=clock.t - 100, success=7))
    hist.add(replace(P0, t_s=clock.t, success=7))
    assert asyncio.run(src.request_counts(query)) == []  # 100 s of history with no request: unknown
    hist.add(replace(P0, t_s=clock.t + 1, success=9))
    clock.t += 1
    (row,) = asyncio.run(src.request_counts(query))
    assert row.count == 2  # non-zero is certain even with a short history
    clock.t += 700
    hist.add(replace(P0, t_s=clock.t, success=9))
    (row,) = asyncio.run(src.request_counts(query))
    assert row.count == 0  # the history covers the retention: a real zero
    assert asyncio.run(src.request_counts([ScaleToZeroQuery(ModelGroupRef("ns", "no-pods"), 600.0)])) == []


def test_scrapes_emulated_pods() -> None:
    async def main() -> None:
        emu = Emulator()
        clock = FakeClock()
        try:
            script = Script(kv_cache_usage=Signal("fixed", 0.6), num_requests_waiting=Signal("fixed", 4))
            a = await emu.start_pod(PodSpec(name="a", model="m1", namespace="ns", script=script))
            b = await emu.start_pod(PodSpec(name="b", model="m2", namespace="ns"))
            src = ScrapeMetricsSource(
                [ScrapeTarget("ns", "a", "m1", a.url), ScrapeTarget("ns", "b", "m2", b.url)],
                clock=clock,
                stale_after_s=30.0,
            )
            rows = await src.pod_metrics([ModelGroupRef("ns", "m1")])
            assert [(r.pod, r.kv_cache_usage, r.queue_length, r.stale) for r in rows] == [("a", 0.6, 4.0, False)]
            assert rows[0].num_gpu_blocks == script.num_gpu_blocks
            assert src.scrapes == 1  # only the requested group's pod was scraped
            await emu.stop_pod("a")
            clock.t += 31
            rows = await src.pod_metrics([ModelGroupRef("ns", "m1"), ModelGroupRef("ns", "m2")])
            assert {r.pod: r.stale for r in rows} == {"a": True, "b": False}
            clock.t += 5
            with pytest.raises(MetricsUnavailableError, match="failed"):
                await src.pod_metrics([ModelGroupRef("ns", "m1")])
            await src.close()
        finally:
            await emu.close()

    asyncio.run(main())
