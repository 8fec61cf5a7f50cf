"""The collector inputs of analyzer learned: the PromQL windows, the direct scrape's windows, pod start times."""

from __future__ import annotations

from dataclasses import replace

from wva_ray.adapters.kube.objects import pod_start_times
from wva_ray.adapters.prometheus import queries as q
from wva_ray.adapters.scrape import PodHistory, Point, ScrapeTarget, parse_exposition, window_row
from wva_ray.core.ports import ModelGroupRef
from wva_ray.sim.emulator.metrics import PodView, ServedTotals
from wva_ray.sim.emulator.render import render_exposition


def test_learned_queries_only_when_asked_and_batched() -> None:
    sel = q.GroupSelector.of([ModelGroupRef("llm", "m1"), ModelGroupRef("llm", "m2")])
    assert not any(k.startswith("learned:") for k in q.pod_queries(sel))
    queries = q.pod_queries(sel, with_learned_signals=True)
    learned = {k: v for k, v in queries.items() if k.startswith("learned:")}
    assert len(learned) == len(q.LEARNED) == 14
    assert learned["learned:itl_seconds_sum"] == (
        "sum by (namespace, model_name, pod, pod_name) "
        '(increase(vllm:inter_token_latency_seconds_sum{namespace=~"llm",model_name=~"m1|m2"}[1m]))'
    )


def test_join_fills_the_window_fields() -> None:
    labels = {"namespace": "llm", "model_name": "m1", "pod": "a"}
    results = {
        q.KV: [q.Sample(labels, 0.2, 1000.0)],
        "learned:completions": [q.Sample(labels, 30.0, 1000.0)],
        "learned:itl_seconds_sum": [q.Sample(labels, 12.0, 1000.0)],
        "learned:itl_count": [q.Sample(labels, 1000.0, 1000.0)],
    }
    (row,) = q.join_pod_rows(results, [ModelGroupRef("llm", "m1")], 1000.0, 60.0)
    assert (row.window_seconds, row.completions, row.itl_seconds_sum, row.itl_count) == (60.0, 30.0, 12.0, 1000.0)
    assert row.prefill_count is None


def test_scrape_window_from_two_emulator_bodies() -> None:
    totals = ServedTotals()
    view0 = PodView("m1", "0", 3.0, 0.0, 0.2, 0.0, 0.0, {}, totals.histograms, 900, 32, 0.0)
    p0 = parse_exposition(render_exposition(view0).decode(), "m1", 0.0)
    totals.record(200, 20, 0.0, 0.1, 0.01, 0.3)
    totals.record(400, 40, 0.0, 0.1, 0.01, 0.5)
    view1 = PodView(
        "m1", "0", 3.0, 1.0, 0.4, 600.0, 60.0, dict(totals.success_by_reason), totals.histograms, 900, 32, 0.0
    )
    p1 = parse_exposition(render_exposition(view1).decode(), "m1", 30.0)
    assert p1.itl_count > 0 and p1.ttft_count == 2.0
    hist = PodHistory(600.0)
    for p in (p0, p1):
        hist.add(p)
    row = window_row(ScrapeTarget("ns", "pod-a", "m1", "http://x"), hist, 30.0, 60.0, 300.0, 120.0)
    assert row is not None and row.window_seconds == 30.0
    assert row.completions == 2.0 and row.prompt_tokens == 600.0 and row.waiting_now == 1.0
    assert row.itl_count == p1.itl_count and row.ttft_count == 2.0


def test_scrape_single_point_has_no_window() -> None:
    p = Point(0.0, 0.1, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1000, 16)
    hist = PodHistory(600.0)
    hist.add(p)
    row = window_row(ScrapeTarget("ns", "a", "m1", "http://x"), hist, 0.0, 60.0, 300.0, 120.0)
    assert row is not None and row.window_seconds is None
    hist.add(replace(p, t_s=20.0, success=5.0))
    row = window_row(ScrapeTarget("ns", "a", "m1", "http://x"), hist, 20.0, 60.0, 300.0, 120.0)
    assert row is not None and row.completions == 5.0


def test_pod_start_times() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-12-04T03:00:00Z"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-04T03:02:30Z"}]},
    }
    times = pod_start_times(pod)
    assert (times["ready_at"] - times["created_at"]).total_seconds() == 150.0
    not_ready = {**pod, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert pod_start_times(not_ready) == {}
