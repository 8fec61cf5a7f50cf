"""The production loop end to end on real parts (tests/loop/rig.py): load ramps up and down, `wva-ray run`
(Ray mode, as the chart runs it) decides from live Prometheus metrics of per-pod emulated engines, the chart's
HPA follows `wva_desired_replicas`, the Deployment's pods come and go, and the next decision sees them.

The timeline (demand, desired, HPA desired, ready replicas, pods in Prometheus) is written to
benchmarks/results/closed_loop/ as JSON and a plot, then asserted on. Markers: integration, e2e, slow.
Run: `pytest tests/loop -k closed_loop`.
"""

from __future__ import annotations

import time

import pytest

from tests.kube.manifests import wait_for
from tests.loop.conftest import RESULTS
from tests.loop.rig import MAX_REPLICAS, LoopRig
from tests.loop.timeline import Row, Sampler, write_json, write_plot, write_readme

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

BASE_RPS = 1.5  # one replica runs it at about 30 % KV cache usage
PEAK_RPS = 8.0  # about four replicas' worth
INTERVAL_S = 2.0


def _published(rig: LoopRig) -> bool:
    assert rig.api is not None
    status = rig.api.get(rig.va_path()).get("status") or {}
    leader = rig.leader()
    gauge = leader.metric("wva_desired_replicas", variant_name="m1-h100") if leader else None
    return bool(status.get("desiredOptimizedAlloc")) and gauge is not None


def wait_steady(rig: LoopRig, timeout_s: float = 180.0) -> None:
    """The controller publishes, the HPA reads its metric, one replica is Ready and in Prometheus."""
    wait_for(lambda: _published(rig), timeout_s, poll_s=1, what=f"first decision published\n{rig.logs()}")
    assert rig.api is not None

    def hpa_reads() -> bool:
        status = rig.api.get(rig.hpa_path()).get("status") or {}  # type: ignore[union-attr]
        return bool(status.get("currentMetrics"))

    wait_for(hpa_reads, 90, poll_s=1, what="the HPA reading wva_desired_replicas")


def _ready(r: Row) -> int:
    return r.ready_replicas or 0


def _steady_base(rig: LoopRig, sampler: Sampler, timeout_s: float = 300.0, hold_s: float = 20.0) -> int:
    """The fleet the controller settles on at the base load: at most 2 replicas (one replica runs the base load at
    about 30 % KV use; the default analyzer may keep a second one for the SLO's headroom), unchanged for hold_s."""
    assert rig.api is not None
    deadline = time.monotonic() + timeout_s
    since, last = time.monotonic(), -1
    while time.monotonic() < deadline:
        n = int(rig.api.get(rig.deployment_path())["spec"]["replicas"])
        if n != last:
            since, last = time.monotonic(), n
        elif n <= 2 and time.monotonic() - since >= hold_s:
            return n
        time.sleep(1)
    raise AssertionError(f"no steady fleet of <= 2 replicas at {BASE_RPS} req/s within {timeout_s} s (last {last})")


def test_closed_loop_ramp_up_and_down(loop: tuple[LoopRig, Sampler]) -> None:
    rig, sampler = loop
    assert rig.load is not None and rig.api is not None
    rig.load.set_rate(BASE_RPS)
    wait_steady(rig)
    base = _steady_base(rig, sampler)
    t_up = sampler.mark("ramp up")
    for step in range(1, 6):  # 1.5 -> 8 req/s over 10 s
        rig.load.set_rate(BASE_RPS + (PEAK_RPS - BASE_RPS) * step / 5)
        time.sleep(2)
    wait_for(
        lambda: any(_ready(r) >= base + 2 for r in sampler.since(t_up)), 120, poll_s=1, what=f">= {base + 2} ready"
    )
    time.sleep(20)  # hold the peak: new pods take traffic and show up in the metrics
    t_down = sampler.mark("ramp down")
    rig.load.set_rate(BASE_RPS)
    wait_for(
        lambda: (sampler.rows[-1].spec_replicas or 99) <= 2 and _ready(sampler.rows[-1]) <= 2,
        # the default analyzer (learned) gives replicas back once demand has stayed under the smaller fleet for its
        # payback window (180 s here) plus the signal's lag (1-m rate windows, a 30-s span): 214-219 s in 4 of 5 runs
        # on 2026-12-07 (load 3-12), 362 s in the 5th (load ~10, late scrapes: MetricsMissing in 6 cycles); 480 s is
        # a bound a loaded 2-core machine should not reach; the time taken is reported
        480,
        poll_s=1,
        what="scaled back down to <= 2 (the base load's fleet)",
    )
    time.sleep(6)  # a few more cycles at the bottom
    t_end = sampler.mark("end")
    sampler.stop()

    rows = sampler.rows
    up = [r for r in rows if t_up <= r.t_s < t_down]
    down = [r for r in rows if r.t_s >= t_down]
    peak_ready = max(_ready(r) for r in up)
    pods_seen = {p for r in rows for p in (r.prom_pods or [])}
    first_pods = set(next(r.prom_pods for r in rows if r.prom_pods))
    final = rows[-1]
    writes = [r.va_status_writes for r in rows if r.va_status_writes is not None]
    cycles = (t_end - t_up) / INTERVAL_S
    status_writes = writes[-1] - writes[0] if writes else None
    t_scaled_up = next(r.t_s for r in up if _ready(r) >= base + 2) - t_up
    t_scaled_down = next(r.t_s for r in down if (r.spec_replicas or 99) <= 2) - t_down
    summary = {
        "command": "pytest tests/loop -k closed_loop",
        "base_rps": BASE_RPS,
        "peak_rps": PEAK_RPS,
        "interval_s": INTERVAL_S,
        "analyzer": "learned (the chart's default)",
        "base_replicas": base,
        "peak_ready_replicas": peak_ready,
        "seconds_to_base_plus_2_ready_after_ramp_up": round(t_scaled_up, 1),
        "seconds_to_2_or_fewer_after_ramp_down": round(t_scaled_down, 1),
        "distinct_pods_in_prometheus": len(pods_seen),
        "va_status_writes": status_writes,
        "cycles": round(cycles),
        "requests_sent": final.sent,
        "requests_failed": final.failed,
    }
    out = RESULTS / "closed_loop"
    write_json(out / "timeline.json", sampler, summary)
    write_plot(out / "timeline.png", sampler, "closed loop: wva-ray run (Ray) + Prometheus + real HPA")
    write_readme(out / "README.md", summary, "Closed loop: load ramp up and down, real HPA following wva-ray")

    # scaled up during the ramp, down after it, never zeroed while load was on
    assert peak_ready >= max(3, base + 2), summary
    assert max((r.hpa_desired or 0) for r in up) >= max(3, base + 2)
    assert (final.spec_replicas or 0) <= 2 and _ready(final) >= 1
    on = [r for r in rows if r.t_s >= t_up]
    assert all((r.spec_replicas or 0) >= 1 for r in on), "a replica count hit zero under load"
    assert all(r.desired is None or r.desired >= 1 for r in on), "wva_desired_replicas hit zero under load"
    assert all(r.desired is None or r.desired <= MAX_REPLICAS for r in on)
    # the HPA followed the gauge: every HPA desired value was one the controller published
    desired_values = {int(r.desired) for r in rows if r.desired is not None}
    assert {r.hpa_desired for r in on if r.hpa_desired} <= desired_values | {1}
    # new pods joined the metrics; deleted pods left them
    assert len(pods_seen - first_pods) >= 2, f"new pods never reached Prometheus: {pods_seen}"
    tail = rows[-6:]
    assert any(r.prom_pods is not None and r.prom_pods == r.ready_pods for r in tail), [
        (r.prom_pods, r.ready_pods) for r in tail
    ]
    # no write storm: at most one status write per cycle (plus a little slack for the HPA-driven changes)
    assert status_writes is not None and status_writes <= cycles + 5, summary
    assert final.failed <= 0.1 * final.sent, summary
    # the coordinator's and the shards' own lines are in the controller's log (actor_logging + log_to_driver)
    actors = rig.log_lines("[wva-coordinator]", "[wva-shard-")
    assert "[wva-coordinator]" in actors and "[wva-shard-0]" in actors, actors
