"""Samples the closed loop once a second and writes the timeline (test helper; network and file I/O).

One row per sample: demand (the load's arrival rate), the controller's `wva_desired_replicas` gauge (read
from the leader's metrics endpoint), the HPA's `status.desiredReplicas`, the Deployment's `spec.replicas` and
`readyReplicas`, the VA's `status.desiredOptimizedAlloc.numReplicas`, the pods Prometheus has fresh KV samples
for, the Ready pods, and the API server's own count of VA status writes (`apiserver_request_total`, summed
over restarts). `write_json` + `write_plot` put it under benchmarks/results/.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.loop.rig import APP_NS, LoopRig


@dataclass
class Row:
    t_s: float
    demand_rps: float
    desired: float | None
    hpa_desired: int | None
    spec_replicas: int | None
    ready_replicas: int | None
    va_desired: int | None
    prom_pods: list[str] | None
    ready_pods: list[str]
    va_status_writes: int | None
    events: int | None
    leader: str | None
    sent: int
    failed: int
    va_rv: int | None = None
    last_run: str | None = None
    conditions: dict[str, str] = field(default_factory=dict)  # type -> "True/False:Reason"
    publishes: float | None = None


def _apiserver_counter(text: str, resource: str, subresource: str | None, verbs: tuple[str, ...]) -> int:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        if f'resource="{resource}"' not in line or not any(f'verb="{v}"' in line for v in verbs):
            continue
        if subresource is not None and f'subresource="{subresource}"' not in line:
            continue
        if subresource is None and 'subresource=""' not in line and "subresource=" in line:
            continue
        total += float(line.rsplit(" ", 1)[1])
    return int(total)


@dataclass
class Sampler:
    rig: LoopRig
    period_s: float = 1.0
    rows: list[Row] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _writes_base: int = 0
    _writes_last: int = 0
    _events_base: int = 0
    _events_last: int = 0

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="loop-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def mark(self, what: str) -> float:
        t = round(time.time() - self.t0, 2)
        self.marks.append((t, what))
        return t

    def since(self, t_s: float) -> list[Row]:
        return [r for r in list(self.rows) if r.t_s >= t_s]

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.rows.append(self.sample())
            self._stop.wait(self.period_s)

    # -- one sample ---------------------------------------------------------------------------------------
    def _get(self, path: str) -> dict[str, Any] | None:
        assert self.rig.api is not None
        try:
            return self.rig.api.get(path)
        except Exception:
            return None

    def _apiserver_metrics(self) -> str | None:
        info = self.rig.info
        assert info is not None
        ctx = ssl.create_default_context(cafile=str(info.ca_file))
        ctx.check_hostname = False
        req = urllib.request.Request(f"{info.server}/metrics", headers={"Authorization": f"Bearer {info.token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=3) as r:
                return str(r.read().decode())
        except OSError:
            return None

    def _counted(self, value: int | None, kind: str) -> int | None:
        """Cumulative across API server restarts (its counters restart at 0)."""
        if value is None:
            return None
        base, last = (self._writes_base, self._writes_last) if kind == "w" else (self._events_base, self._events_last)
        if value < last:
            base += last
        last = value
        if kind == "w":
            self._writes_base, self._writes_last = base, last
        else:
            self._events_base, self._events_last = base, last
        return base + value

    def prom_pods(self) -> list[str] | None:
        q = f'vllm:kv_cache_usage_perc{{namespace="{APP_NS}"}}'
        url = f"{self.rig.prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                doc = json.load(r)
        except (OSError, ValueError):
            return None
        return sorted(str(s["metric"].get("pod")) for s in doc["data"]["result"])

    def sample(self) -> Row:
        rig = self.rig
        dep = self._get(rig.deployment_path()) or {}
        hpa = (self._get(rig.hpa_path()) or {}).get("status") or {}
        va_doc = self._get(rig.va_path()) or {}
        va = va_doc.get("status") or {}
        leader = rig.leader()
        desired = leader.metric("wva_desired_replicas", variant_name="m1-h100") if leader else None
        text = self._apiserver_metrics()
        writes = events = None
        if text is not None:
            writes = _apiserver_counter(text, "variantautoscalings", "status", ("PATCH", "UPDATE", "APPLY"))
            events = _apiserver_counter(text, "events", None, ("POST", "CREATE", "PATCH"))
        load = rig.load
        counts = load.counts if load else {}
        return Row(
            t_s=round(time.time() - self.t0, 2),
            demand_rps=load.rate_rps if load else 0.0,
            desired=desired,
            hpa_desired=hpa.get("desiredReplicas"),
            spec_replicas=(dep.get("spec") or {}).get("replicas"),
            ready_replicas=(dep.get("status") or {}).get("readyReplicas", 0) if dep else None,
            va_desired=(va.get("desiredOptimizedAlloc") or {}).get("numReplicas"),
            prom_pods=self.prom_pods(),
            ready_pods=sorted(e.pod for e in rig.discovery_endpoints()),
            va_status_writes=self._counted(writes, "w"),
            events=self._counted(events, "e"),
            leader=leader.identity if leader else None,
            sent=int(counts.get("sent", 0)),
            failed=int(sum(v for k, v in counts.items() if k not in ("sent", "ok", "no_endpoint"))),
            va_rv=int(va_doc["metadata"]["resourceVersion"]) if va_doc else None,
            last_run=(va.get("desiredOptimizedAlloc") or {}).get("lastRunTime"),
            conditions={str(c.get("type")): f"{c.get('status')}:{c.get('reason')}" for c in va.get("conditions") or []},
            publishes=leader.metric("wva_publishes_total") if leader else None,
        )


def write_json(path: Path, sampler: Sampler, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"summary": summary, "marks": sampler.marks, "rows": [asdict(r) for r in sampler.rows]}
    path.write_text(json.dumps(doc, indent=1) + "\n")


def write_readme(path: Path, summary: dict[str, Any], what: str) -> None:
    lines = [f"# {what}", "", "Generated by tests/loop/test_closed_loop.py (do not edit by hand).", ""]
    lines += [f"- `{k}`: {v}" for k, v in summary.items()]
    lines += ["", "Timeline: `timeline.json` (one row a second), plot: `timeline.png`."]
    path.write_text("\n".join(lines) + "\n")


def write_plot(path: Path, sampler: Sampler, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sampler.rows
    t = [r.t_s for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.step(
        t,
        [r.desired if r.desired is not None else float("nan") for r in rows],
        where="post",
        label="wva_desired_replicas",
    )
    ax.step(
        t,
        [r.hpa_desired if r.hpa_desired is not None else float("nan") for r in rows],
        where="post",
        label="HPA desired",
        linestyle="--",
    )
    ax.step(t, [r.ready_replicas or 0 for r in rows], where="post", label="ready replicas")
    ax.step(
        t,
        [len(r.prom_pods) if r.prom_pods is not None else float("nan") for r in rows],
        where="post",
        label="pods in Prometheus",
        linestyle=":",
    )
    ax.set_ylabel("replicas")
    ax.set_xlabel("seconds")
    ax2 = ax.twinx()
    ax2.plot(t, [r.demand_rps for r in rows], color="grey", alpha=0.5, label="demand (req/s)")
    ax2.set_ylabel("demand, req/s")
    for mt, what in sampler.marks:
        ax.axvline(mt, color="red", alpha=0.3)
        ax.text(mt, ax.get_ylim()[1] * 0.95, what, rotation=90, fontsize=7, va="top")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
