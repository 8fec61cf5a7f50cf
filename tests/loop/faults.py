"""Fault harness for the closed loop (test helper; drives tests/loop/rig.py, writes benchmarks/results/faults/).

`run_fault` brings the loop to a steady state under constant load, injects the fault, holds it, restores, and
measures: the decisions during the fault (never zero), status and counters never going backwards, VA status
writes and Events (no storm), the conditions and Events that say what happened, the time from restore to a
healthy loop (`recovery_s`), and what was lost (failed requests, seconds without a leader or metrics).
Every outcome goes into benchmarks/results/faults/faults.json (merged by fault name); README.md there is
generated from it (`write_report`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.kube.manifests import wait_for
from tests.loop.conftest import RESULTS
from tests.loop.rig import APP_NS, VARIANT, LoopRig
from tests.loop.timeline import Row, Sampler

FAULT_RPS = 3.0  # about two replicas' worth
INTERVAL_S = 2.0
FAULTS_DIR = RESULTS / "faults"


def metrics_ok(r: Row) -> bool:
    return r.conditions.get("MetricsAvailable", "").startswith("True")


def healthy(r: Row) -> bool:
    """Leader publishing from fresh metrics of exactly the Ready pods, HPA agreeing with the gauge."""
    return (
        r.leader is not None
        and r.desired is not None
        and r.desired >= 1
        and metrics_ok(r)
        and bool(r.prom_pods)
        and r.prom_pods == r.ready_pods
        and r.hpa_desired == int(r.desired)
    )


def steady(rig: LoopRig, sampler: Sampler, timeout_s: float = 300.0) -> None:
    """Constant load; wait until the loop has been healthy and at one replica count for 3 cycles."""
    assert rig.load is not None
    rig.load.set_rate(FAULT_RPS)

    def settled() -> bool:
        rows = sampler.rows[-4:]
        return len(rows) == 4 and all(healthy(r) for r in rows) and len({r.spec_replicas for r in rows}) == 1

    wait_for(settled, timeout_s, poll_s=1, what="a steady, healthy loop")


def events_of(
    rig: LoopRig, since_wall_s: float, namespace: str = APP_NS, kind: str = "VariantAutoscaling", name: str = VARIANT
) -> list[dict[str, Any]]:
    """Events about one object since a wall-clock time (second resolution)."""
    assert rig.api is not None
    items = rig.api.get(f"/api/v1/namespaces/{namespace}/events").get("items") or []
    out = []
    for e in items:
        obj = e.get("involvedObject") or {}
        if obj.get("kind") != kind or obj.get("name") != name:
            continue
        stamp = e.get("lastTimestamp") or e.get("eventTime") or ""
        try:
            t = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
        if t >= since_wall_s - 1:
            out.append(
                {
                    "object": f"{kind}/{name}",
                    "reason": e.get("reason"),
                    "type": e.get("type"),
                    "message": e.get("message"),
                }
            )
    return out


@dataclass
class Outcome:
    fault: str
    what_the_controller_did: str
    recovery_s: float | None
    lost: str
    desired_during: list[int]
    min_spec_replicas: int | None
    va_status_writes: int | None
    cycles: int
    events: list[dict[str, Any]] = field(default_factory=list)
    conditions_seen: list[str] = field(default_factory=list)
    backwards: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _backwards(rows: list[Row]) -> list[str]:
    found: list[str] = []
    for a, b in itertools.pairwise(rows):
        if a.va_rv is not None and b.va_rv is not None and b.va_rv < a.va_rv:
            found.append(f"t={b.t_s}: VA resourceVersion {a.va_rv} -> {b.va_rv}")
        if a.last_run and b.last_run and b.last_run < a.last_run:
            found.append(f"t={b.t_s}: lastRunTime {a.last_run} -> {b.last_run}")
    return found


def _counter_resets(rows: list[Row]) -> int:
    """wva_publishes_total going down under one leader: the coordinator actor restarted (a counter reset, which
    Prometheus' rate() handles; reported, not a failure)."""
    return sum(
        1
        for a, b in itertools.pairwise(rows)
        if a.leader is not None and a.leader == b.leader and (b.publishes or 0) < (a.publishes or 0)
    )


def run_fault(
    rig: LoopRig,
    sampler: Sampler,
    name: str,
    inject: Callable[[], None],
    restore: Callable[[], None],
    hold_s: float,
    recovered: Callable[[Row], bool] = healthy,
    recovery_timeout_s: float = 120.0,
    lost_note: str = "",
    also_events: tuple[tuple[str, str, str], ...] = (),
    allow_no_recovery: bool = False,
) -> Outcome:
    """`also_events`: (namespace, kind, name) of other objects whose Events count (a ConfigMap, ...)."""
    steady(rig, sampler)
    restarts_before = rig.controller_restarts()
    liveness_before = len(rig.liveness_restarts)
    before = sampler.rows[-1]
    t_fault = sampler.mark(name)
    wall_fault = sampler.t0 + t_fault
    inject()
    time.sleep(hold_s)
    t_restore = sampler.mark("restored")
    restore()
    seen_restore = len(sampler.rows)

    def back() -> Row | None:
        rows = sampler.rows[seen_restore:]
        for a, b in itertools.pairwise(rows):
            # a publish between two healthy samples (the counter restarts with a restarted coordinator actor)
            if recovered(a) and recovered(b) and (b.publishes or 0) > (a.publishes or 0):
                return a
        return None

    first_ok: Row | None
    try:
        first_ok = wait_for(back, recovery_timeout_s, poll_s=1, what=f"{name}: recovery")
    except AssertionError as exc:
        if not allow_no_recovery:
            rows = "\n".join(str(r) for r in sampler.rows[-4:])
            raise AssertionError(f"{exc}\nlast samples:\n{rows}\n{rig.logs()[-3000:]}") from exc
        first_ok = None
    time.sleep(2 * INTERVAL_S)
    t_end = sampler.mark("recovered")
    window = sampler.since(t_fault)
    events = events_of(rig, wall_fault)
    for namespace, kind, obj_name in also_events:
        events += events_of(rig, wall_fault, namespace, kind, obj_name)
    writes = [r.va_status_writes for r in window if r.va_status_writes is not None]
    desired = sorted({int(r.desired) for r in window if r.desired is not None})
    during = [int(r.desired) for r in window if r.desired is not None and r.t_s <= t_restore]
    after = [int(r.desired) for r in window if r.desired is not None and r.t_s > t_restore]
    conditions = sorted(
        {f"{k}={v}" for r in window for k, v in r.conditions.items()}
        - {f"{k}={v}" for k, v in before.conditions.items()}
    )
    no_leader_s = sum(1 for r in window if r.leader is None) * sampler.period_s
    no_metrics_s = sum(1 for r in window if not r.prom_pods) * sampler.period_s
    failed = window[-1].failed - before.failed
    sent = window[-1].sent - before.sent
    did = [f"desired {int(before.desired or 0)} before, {_path(during)} during, {_path(after)} after"]
    if conditions:
        did.append("set " + ", ".join(conditions))
    if events:
        did.append("Events " + ", ".join(sorted({str(e["reason"]) for e in events})))
    lost = [f"{failed}/{sent} requests failed", f"{no_leader_s:.0f}s without a leader"]
    lost.append(f"{no_metrics_s:.0f}s without pod metrics in Prometheus")
    if first_ok is None:
        lost.append(f"NOT RECOVERED within {recovery_timeout_s:.0f} s: no cycle published since the fault")
    if lost_note:
        lost.append(lost_note)
    restarts = rig.controller_restarts() - restarts_before
    if restarts:
        did.append(f"controller process restarted {restarts}x")
    return Outcome(
        fault=name,
        what_the_controller_did="; ".join(did),
        recovery_s=round(first_ok.t_s - t_restore, 1) if first_ok is not None else None,
        lost="; ".join(lost),
        desired_during=desired,
        min_spec_replicas=min((r.spec_replicas for r in window if r.spec_replicas is not None), default=None),
        va_status_writes=(writes[-1] - writes[0]) if writes else None,
        cycles=round((t_end - t_fault) / INTERVAL_S),
        events=events,
        conditions_seen=conditions,
        backwards=_backwards(window),
        extra={
            "hold_s": hold_s,
            "t_fault": t_fault,
            "t_restore": t_restore,
            "t_end": t_end,
            "controller_restarts": restarts,
            "liveness_restarts": rig.liveness_restarts[liveness_before:],
            "load_avg_1m": round(os.getloadavg()[0], 1),
            "publish_counter_resets": _counter_resets(window),
        },
    )


def log_lines_now(rig: LoopRig) -> dict[str, list[str]]:
    """The log files the controllers write to (their stdout, and their Ray actors' worker logs, which fill a pod's
    filesystem whatever reaches stdout) -> their lines so far. Since `wva-ray run` forwards the actors' lines to
    its stdout (log_to_driver), an actor's line is counted twice, once in each. Ray's own logs (raylet, GCS:
    periodic stats whatever the controller does) are not counted."""
    files = [c.log for c in rig.controllers]
    files += [f for f in rig.ray_tmp.rglob("worker-*") if f.suffix in (".out", ".err") and f.is_file()]
    out: dict[str, list[str]] = {}
    for f in files:
        try:
            out[str(f)] = f.read_text(errors="replace").splitlines()
        except OSError:
            continue
    return out


def log_growth(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, int]:
    """Lines written between two `log_lines_now` readings, counted by message shape (digits, hex ids and quoted
    text folded, timestamps and pids dropped), most frequent first."""
    shapes: dict[str, int] = {}
    for path, lines in after.items():
        for line in lines[len(before.get(path, [])) :]:
            shape = _shape(line)
            if shape:
                shapes[shape] = shapes.get(shape, 0) + 1
    return dict(sorted(shapes.items(), key=lambda kv: -kv[1]))


def _shape(line: str) -> str:
    text = re.sub(r"^\S+ \S+ (?=[A-Z]+ )", "", line.strip())  # "date time LEVEL ..." -> "LEVEL ..."
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'*'", text)
    text = re.sub(r"0x[0-9a-f]+|[0-9a-f]{12,}", "#", text)
    return re.sub(r"\d+(\.\d+)?", "N", text)[:160]


def _path(values: list[int]) -> str:
    """1,1,2,2,1 -> '1->2->1'; nothing -> 'no gauge'."""
    steps = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    return "->".join(str(v) for v in steps) if steps else "no gauge"


def check(outcome: Outcome, max_events: int = 12) -> None:
    """The goals every fault must meet."""
    o = outcome
    assert o.desired_during and min(o.desired_during) >= 1, f"{o.fault}: a decision hit zero: {o}"
    assert o.min_spec_replicas is not None and o.min_spec_replicas >= 1, f"{o.fault}: replicas hit zero: {o}"
    assert not o.backwards, f"{o.fault}: went backwards: {o.backwards}"
    assert o.va_status_writes is None or o.va_status_writes <= o.cycles + 5, f"{o.fault}: write storm: {o}"
    assert len(o.events) <= max_events, f"{o.fault}: event storm: {o.events}"


def record(outcome: Outcome, timeline: Sampler | None = None, path: Path = FAULTS_DIR / "faults.json") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"faults": {}}
    doc["faults"][outcome.fault] = outcome.__dict__
    if timeline is not None:
        slug = "".join(c if c.isalnum() else "-" for c in outcome.fault.lower()).strip("-")[:48]
        rows = [asdict(r) for r in timeline.rows if r.t_s >= outcome.extra.get("t_fault", 0) - 10]
        (path.parent / "timelines").mkdir(exist_ok=True)
        (path.parent / "timelines" / f"{slug}.json").write_text(json.dumps({"marks": timeline.marks, "rows": rows}))
    doc["command"] = 'pytest tests/loop -k "closed_loop or fault"'
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    write_report(doc, path.parent / "README.md")


def write_report(doc: dict[str, Any], path: Path) -> None:
    lines = [
        "# Faults in the closed loop",
        "",
        "Generated from `faults.json` by tests/loop/faults.py (do not edit by hand). Each row is one test",
        f"(`{doc.get('command', '')}`) on the closed loop of tests/loop/rig.py: real kube-apiserver,",
        "controller-manager (HPA) and scheduler, per-pod emulated vLLM engines scraped by real Prometheus,",
        "`wva-ray run` in Ray mode as the chart runs it, the chart's HPA, constant load of about two replicas.",
        "Recovery = from the end of the fault to two consecutive healthy samples with a new publish.",
        "",
        "| fault | what the controller did | recovery (s) | what was lost | VA status writes / cycles | load (1 m) |",
        "|---|---|---|---|---|---|",
    ]
    for name, o in sorted(doc["faults"].items()):
        writes = f"{o['va_status_writes']} / {o['cycles']}"
        load = o.get("extra", {}).get("load_avg_1m", "")
        row = f"| {name} | {o['what_the_controller_did']} | {o['recovery_s']} | {o['lost']} | {writes} | {load} |"
        lines.append(row)
    path.write_text("\n".join(lines) + "\n")
