"""Faults in the closed loop (tests/loop/rig.py), each with a measured outcome (tests/loop/faults.py): decisions
held (never zero), nothing going backwards, no write storm, recovery time, a condition or Event saying what
happened. Outcomes: benchmarks/results/faults/{faults.json,README.md}. Markers: integration, e2e, slow.
Run: `pytest tests/loop -k fault`.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from datetime import UTC, datetime

import pytest

from tests.kube.manifests import apply, deployment, wait_for
from tests.loop.faults import (
    INTERVAL_S,
    Outcome,
    check,
    events_of,
    healthy,
    log_growth,
    log_lines_now,
    record,
    run_fault,
    steady,
)
from tests.loop.rig import APP_NS, H100, MODEL, SYSTEM_NS, VARIANT, LoopRig
from tests.loop.timeline import Row, Sampler
from wva_ray.core.variants import NEW_POD_GRACE_S
from wva_ray.core.warmup import METRICS_WARMUP_S

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

Loop = tuple[LoopRig, Sampler]
LEASE = (SYSTEM_NS, "Lease", "wva-ray-leader")


def _said(o: Outcome, *needles: str) -> bool:
    text = " ".join(o.conditions_seen) + " " + " ".join(f"{e['reason']} {e['message']}" for e in o.events)
    return any(n in text for n in needles)


OUTAGE_S = 300.0
HEARTBEAT_S = 300.0  # the chart's status heartbeat (WVA_STATUS_HEARTBEAT_S default)


@pytest.mark.timeout(1500)
def test_fault_prometheus_stopped_5_min_and_restarted(loop: Loop) -> None:
    """Prometheus stopped for 5 minutes of real time, then started again on its data directory.

    Why real time and not a faster clock: what a long outage can break runs on clocks the controller does not
    own. Prometheus' 5-minute lookback (after it the last samples of every pod and of `wva_desired_replicas`
    are gone from instant queries: the HPA's external metric and the saturation queries come back empty, not
    old), the reader's `stale_after_s` (60 s), the VA status heartbeat (300 s), the leader Lease and the
    liveness probe all run on the wall clock of their own process, and Prometheus has no clock to scale. A
    shorter outage with a shorter interval would only show more cycles of the same 12 s. So the outage is the
    issue's 5 minutes, at the chart's 2 s interval of this rig (150 cycles), and it is the only long fault
    test (about 7 of the full CI's minutes). This replaces the 12-s outage, which it covers.

    Measured through the outage: the decision and its gauge (held, never zero, never absent), VA status
    writes and Events (a bounded number, not one per cycle), /healthz (never failing: a Prometheus outage is
    not a reason for the kubelet to restart the controller) and /readyz, the Lease (kept by the same leader),
    the log lines written per cycle (controller stdout and its Ray logs), and the recovery time; after it, the
    60 s warm-up (core.warmup): no scale-down below the held decision, and MetricsWarmingUp said.
    """
    rig, sampler = loop
    steady(rig, sampler)
    leader = rig.leader()
    assert leader is not None
    probes: list[tuple[float, int | None, str, bool]] = []
    probing = threading.Event()
    logs: dict[str, dict[str, list[str]]] = {}

    def probe() -> None:  # /healthz and /readyz through the fault, every second
        while not probing.wait(1.0):
            status, reason = leader.healthz()
            probes.append((round(time.time() - sampler.t0, 1), status, reason, leader.ready()))

    def stop() -> None:
        logs["fault"] = log_lines_now(rig)
        rig.stop_prometheus()

    def start() -> None:
        logs["restore"] = log_lines_now(rig)
        rig.start_prometheus()

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        name = "prometheus stopped 5 min, restarted"
        o = run_fault(rig, sampler, name, stop, start, OUTAGE_S, also_events=(LEASE,))
    finally:
        probing.set()
        prober.join(5)
    t_fault, t_restore = float(o.extra["t_fault"]), float(o.extra["t_restore"])
    # the warm-up after the metrics come back (core.warmup): no scale-down below the held decision in it
    wait_for(lambda: sampler.rows[-1].t_s >= t_restore + METRICS_WARMUP_S + 15, 120, poll_s=1, what="warm-up")
    before = [int(r.desired) for r in sampler.rows if r.t_s < t_fault and r.desired is not None][-1]
    warmup = [
        int(r.desired)
        for r in sampler.since(t_restore)
        if r.t_s <= t_restore + METRICS_WARMUP_S - 5 and r.desired is not None
    ]
    after = [int(r.desired) for r in sampler.since(t_restore + METRICS_WARMUP_S) if r.desired is not None]
    during = [p for p in probes if t_fault <= p[0] <= t_restore]
    outage_rows = [r for r in sampler.since(t_fault) if r.t_s <= t_restore]
    outage_cycles = round(OUTAGE_S / INTERVAL_S)
    grown = log_growth(logs["fault"], logs["restore"])
    lines = sum(grown.values())
    writes = [r.va_status_writes for r in outage_rows if r.va_status_writes is not None]
    outage_events = [e for e in o.events if e["reason"] in ("MetricsMissing", "PrometheusError", "ShardsLate")]
    o.extra.update(
        healthz_samples=len(during),
        healthz_non_200=sum(1 for p in during if p[1] != 200),
        readyz_not_ready=sum(1 for p in during if not p[3]),
        healthz_reasons=sorted({p[2] for p in during if p[1] != 200})[:3],
        leaders_seen=sorted({r.leader or "none" for r in outage_rows}),
        gauge_absent_samples=sum(1 for r in outage_rows if r.desired is None),
        va_status_writes_in_outage=(writes[-1] - writes[0]) if writes else None,
        log_lines_during_outage=lines,
        log_lines_per_cycle=round(lines / outage_cycles, 3),
        log_top=list(grown.items())[:6],
        desired_in_warmup=sorted(set(warmup)),
        desired_after_warmup=sorted(set(after)),
    )
    record(o, sampler)
    check(o)
    assert rig.controller_restarts() == 0 and not o.extra["liveness_restarts"], o.extra
    assert o.extra["healthz_non_200"] == 0, o.extra["healthz_reasons"]
    assert during and len(during) >= OUTAGE_S / 2, f"{len(during)} probes"
    assert o.extra["leaders_seen"] == [leader.identity], o.extra["leaders_seen"]
    assert o.extra["gauge_absent_samples"] == 0, "wva_desired_replicas disappeared during the outage"
    # writes: entering the outage, its cause once known, and the heartbeat (one per HEARTBEAT_S): never per cycle
    writes_allowed = 2 + int(OUTAGE_S // (0.75 * HEARTBEAT_S)) + 1
    assert writes and writes[-1] - writes[0] <= writes_allowed, o.extra["va_status_writes_in_outage"]
    assert len(outage_events) <= 3, outage_events  # transitions, not one per cycle (150 cycles)
    # the VA says why it holds: the metrics source failed (not "no saturation metrics from live pods")
    assert _said(o, "MetricsAvailable=False:PrometheusError"), o.conditions_seen
    # a few lines when it starts, a reminder, when it ends; not one per cycle (was 150 lines from the coordinator)
    assert lines <= 12, f"{lines} log lines in {outage_cycles} cycles: {o.extra['log_top']}"
    assert warmup and min(warmup) >= before, f"held {before}, then {warmup} in the warm-up after the outage"
    assert _said(o, "MetricsAvailable=True:MetricsWarmingUp"), o.conditions_seen  # and said so


def test_fault_prometheus_slow(loop: Loop) -> None:
    rig, sampler = loop
    assert rig.proxy is not None
    proxy = rig.proxy

    def slow() -> None:
        proxy.delay_s = 3.0  # > the 1 s proposal deadline and the 2 s interval

    o = run_fault(rig, sampler, "prometheus slow (+3 s per query) 10 s", slow, proxy.reset, 10)
    o.extra["proxy_queries"] = proxy.queries
    record(o, sampler)
    check(o)


def _ready_since(rig: LoopRig) -> dict[str, float]:
    """Ready pods of the app namespace -> wall time they became Ready."""
    assert rig.api is not None
    out: dict[str, float] = {}
    for pod in rig.api.get(f"/api/v1/namespaces/{APP_NS}/pods").get("items") or []:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") == "True" and c.get("lastTransitionTime"):
                at = datetime.strptime(c["lastTransitionTime"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
                out[pod["metadata"]["name"]] = at.timestamp()
    return out


def test_fault_prometheus_partial_results(loop: Loop) -> None:
    rig, sampler = loop
    assert rig.proxy is not None
    proxy = rig.proxy
    victim: list[str] = []

    def partial() -> None:
        ready = _ready_since(rig)
        pods = [p for p in sampler.rows[-1].ready_pods if p in ready]
        oldest = min(pods, key=lambda p: ready[p])
        # a pod Ready for less than the core's grace may not have been scraped yet: not reported as missing
        wait_s = NEW_POD_GRACE_S + 2 - (time.time() - ready[oldest])
        if wait_s > 0:
            time.sleep(wait_s)
        victim.append(oldest)
        proxy.drop_pods = {oldest}

    name = "prometheus partial results (one pod's series missing) 10 s"
    o = run_fault(rig, sampler, name, partial, proxy.reset, 10)
    o.extra.update(dropped_series=proxy.dropped_series, victim=victim)
    record(o, sampler)
    check(o)
    # decided on the pods that report, and said so: condition and Event name the silent pod
    assert "MetricsAvailable=True:MetricsPartial" in o.conditions_seen, o.conditions_seen
    # an Event carries its cycle's `now`: a cycle that started up to a few seconds before the fault mark and read
    # Prometheus after the series were dropped stamps its MetricsPartial Event before the mark (seen twice in full
    # CI runs at load, where cycles are slow: the condition was set and left, and only its MetricsFound Event fell
    # inside the window); look back a few cycles for it
    since = sampler.t0 + float(o.extra["t_fault"]) - 5 * INTERVAL_S
    partial_events = [e for e in events_of(rig, since) if e["reason"] == "MetricsPartial"]
    needles = ("MetricsPartial", "event", "status", "conflict", "unreachable", "publish")
    logged = "" if partial_events else rig.log_lines(*needles)
    assert partial_events and victim[0] in (partial_events[0]["message"] or ""), f"{o.events}\n{logged}"
    assert any(e["reason"] == "MetricsFound" for e in o.events), o.events  # and back when it reports again


def test_fault_apiserver_restarted(loop: Loop) -> None:
    rig, sampler = loop
    before_transient = len(rig.kubelet.transient_errors) if rig.kubelet else 0
    o = run_fault(
        rig,
        sampler,
        "kube-apiserver stopped 10 s, restarted (etcd kept)",
        rig.plane.stop_apiserver,
        rig.plane.start_apiserver,
        10,
        also_events=(LEASE,),
    )
    if rig.kubelet is not None:
        o.extra["kubelet_transient_errors"] = len(rig.kubelet.transient_errors) - before_transient
    record(o, sampler)
    check(o)
    assert _said(o, "became leader"), o  # the Lease expired while the API was down, and was won back


def test_fault_leader_killed(loop: Loop) -> None:
    rig, sampler = loop
    old = rig.leader()
    assert old is not None
    standby = rig.start_controller(f"wva-{len(rig.controllers)}")
    wait_for(lambda: standby.metric("wva_is_leader") == 0.0, 120, poll_s=1, what="standby up")
    took: list[float] = []

    def kill() -> None:
        old.kill()
        rig.kill_ray_of(old)
        t = time.time()
        wait_for(lambda: standby.metric("wva_is_leader") == 1.0, 60, poll_s=0.2, what="standby takes the Lease")
        took.append(round(time.time() - t, 1))

    def takeover(r: Row) -> bool:
        return healthy(r) and r.leader == standby.identity

    name = "leader SIGKILLed (standby takes over)"
    o = run_fault(rig, sampler, name, kill, lambda: None, 0, recovered=takeover, also_events=(LEASE,))
    o.extra["lease_taken_after_s"] = took[0]
    o.recovery_s = round((o.recovery_s or 0) + took[0], 1)  # measured from the kill, not from the takeover
    rig.forget_dead_controllers()
    record(o, sampler)
    check(o)
    assert took[0] <= 6 * 2 + 5, f"the Lease (6 s) took {took[0]} s to move"
    assert _said(o, f"{standby.identity} became leader"), o


def test_fault_pod_metrics_failing(loop: Loop) -> None:
    rig, sampler = loop
    victim: list[str] = []

    def fail() -> None:
        pods = sampler.rows[-1].ready_pods
        victim.append(f"{APP_NS}/{pods[-1]}")
        rig.backend.break_metrics(victim[0])

    def heal() -> None:
        rig.backend.heal_metrics(victim[0])

    o = run_fault(rig, sampler, "one pod's engine/metrics endpoint down 10 s", fail, heal, 10)
    o.extra["victim"] = victim
    record(o, sampler)
    check(o)


def test_fault_deployment_deleted_and_recreated(loop: Loop) -> None:
    rig, sampler = loop
    assert rig.api is not None
    api = rig.api
    doc = deployment(APP_NS, VARIANT, replicas=1, product=H100, args=["--model", MODEL])

    def delete() -> None:
        api.delete(rig.deployment_path(), {"propagationPolicy": "Foreground"})

    def recreate() -> None:
        wait_for(lambda: _gone(rig), 60, poll_s=0.5, what="Deployment gone")
        apply(api, doc)

    o = run_fault(rig, sampler, "target Deployment deleted 10 s, recreated", delete, recreate, 10)
    record(o, sampler)
    check(o)
    assert _said(o, "TargetResolved=False", "TargetNotFound"), o


def _gone(rig: LoopRig) -> bool:
    assert rig.api is not None
    try:
        rig.api.get(rig.deployment_path())
    except Exception:
        return True
    return False


def test_fault_configmap_invalid_and_back(loop: Loop) -> None:
    rig, sampler = loop
    assert rig.api is not None
    api = rig.api
    path = f"/api/v1/namespaces/{SYSTEM_NS}/configmaps/wva-saturation-scaling-config"
    original = api.get(path)["data"]

    def corrupt() -> None:
        bad = original["default"].replace("kvCacheThreshold: 0.8", "kvCacheThreshold: 7.5")
        assert bad != original["default"], original
        api.patch(path, {"data": {"default": bad}})

    def fix() -> None:
        api.patch(path, {"data": original})

    cm = (SYSTEM_NS, "ConfigMap", "wva-saturation-scaling-config")
    name = "saturation ConfigMap kvCacheThreshold=7.5 for 12 s, then fixed"
    o = run_fault(rig, sampler, name, corrupt, fix, 12, also_events=(cm,))
    record(o, sampler)
    check(o)
    assert _said(o, "kvCacheThreshold", "InvalidConfiguration"), o
    # the controller goes on deciding with the entry's last valid version (core.last_valid), and says so
    t_fault, t_restore = o.extra["t_fault"], o.extra["t_restore"]
    before = [int(r.desired) for r in sampler.rows if r.t_s < t_fault and r.desired is not None][-1]
    during = [int(r.desired) for r in sampler.since(t_fault) if r.t_s <= t_restore and r.desired is not None]
    assert during and set(during) == {before}, f"desired {before} before the fault, {during} during it"
    assert _said(o, "kept the last valid entry of"), o.events


def test_fault_shard_and_coordinator_killed(loop: Loop) -> None:
    rig, sampler = loop
    steady(rig, sampler)  # also when this test runs alone: a leader to aim at
    leader = rig.leader()
    assert leader is not None
    killed: list[str] = []
    probes: list[tuple[float, int | None, str]] = []
    probing = threading.Event()

    def probe() -> None:  # /healthz through the fault, every 0.5 s
        while not probing.wait(0.5):
            status, reason = leader.healthz()
            probes.append((round(time.time() - sampler.t0, 1), status, reason))

    def kill() -> None:
        shard = rig.ray_actor_pids(leader, "ShardActor")
        assert shard, "no shard actor process found"
        os.kill(shard[0], signal.SIGKILL)
        killed.append(f"ShardActor pid {shard[0]}")
        time.sleep(3)  # mid-cycle of the next one
        coord = rig.ray_actor_pids(leader, "CoordinatorActor")
        assert coord, "no coordinator actor process found"
        os.kill(coord[0], signal.SIGKILL)
        killed.append(f"CoordinatorActor pid {coord[0]}")

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        name = "a shard actor then the coordinator SIGKILLed"
        o = run_fault(rig, sampler, name, kill, lambda: None, 0, also_events=(LEASE,))
    finally:
        probing.set()
        prober.join(5)
    said_gap = (re.search(r" ([0-9.]+) s after it was lost", e["message"] or "") for e in o.events)
    gaps = [float(m.group(1)) for m in said_gap if m]
    failing = [p for p in probes if p[1] != 200]
    o.extra.update(
        killed=killed,
        coordinator_gap_s=gaps,
        healthz_non_200=len(failing),
        healthz_samples=len(probes),
        healthz_reasons=sorted({p[2] for p in failing})[:3],
    )
    record(o, sampler)
    check(o)
    assert leader.alive and rig.controller_restarts() == 0, "recovered by a process restart, not by itself"
    assert _said(o, "CoordinatorUnavailable") and _said(o, "CoordinatorRecovered"), o
    assert gaps, o.events
    # /healthz: unhealthy only while no cycle finished (with the reason), and healthy again at the end
    assert probes and probes[-1][1] == 200, probes[-3:]
    assert all(p[1] == 503 and "no cycle finished" in p[2] for p in failing), failing
