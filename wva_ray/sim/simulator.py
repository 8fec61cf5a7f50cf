"""Virtual-time cluster simulator: variants of replicas, a router, a scrape pipeline, one policy, one actuation.

Owns the event loop. Pods go Starting (billed, not routable, no metrics) -> Ready -> Draining (no new requests,
billed until empty) -> Stopped. The router (wva_ray.sim.router) sends each arrival to a ready pod of its model;
with none (or all at a policy's `max_ongoing_per_replica`) it waits in the gateway queue (EPP flow control).
Clients abandon requests queued over `CLIENT_TIMEOUT_S` (failed). Every `scrape_interval_s` each live pod's
gauges and counters go into a `Tsdb`; every policy tick renders what the controller would read from it
(wva_ray.sim.render), and the decision goes out through the actuator (wva_ray.sim.actuation). A GPU budget per
accelerator type refuses pods beyond it (counted). Pure computation, no I/O.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from wva_ray.sim.actuation import Actuator, Direct
from wva_ray.sim.fidelity import Fidelity
from wva_ray.sim.model.replica import Completed, ReplicaModel
from wva_ray.sim.model.traces import FloatArray
from wva_ray.sim.observe import Observation, Tsdb
from wva_ray.sim.pod import SimPod
from wva_ray.sim.policies.base import Policy
from wva_ray.sim.records import PodRecord, RequestLog, ScaleAction, SimModel, SimResult, SimVariant, pod_record
from wva_ray.sim.render import DRAINING, READY, STARTING, STOPPED, ModelInfo, count_views, observation
from wva_ray.sim.router import Router

__all__ = ["PodRecord", "RequestLog", "ScaleAction", "SimModel", "SimResult", "SimVariant", "Simulation"]

DRAIN_GRACE_S = 900.0
CLIENT_TIMEOUT_S = 60.0  # queued requests older than this are abandoned by their clients (counted as failed)


@dataclass
class _Stats:
    budget_denied: int = 0
    policy_calls: int = 0
    policy_wall_s: float = 0.0
    actions: list[ScaleAction] = field(default_factory=list)


class Simulation:
    """One run of one policy over one scenario instance (fixed traces and seed)."""

    def __init__(
        self,
        models: list[SimModel],
        variants: list[SimVariant],
        policy: Policy,
        duration_s: float,
        seed: int = 0,
        scrape_interval_s: float = 15.0,
        record_interval_s: float = 10.0,
        gpu_budget: Mapping[str, int] | None = None,
        actuator: Actuator | None = None,
        fidelity: Fidelity | None = None,
    ) -> None:
        self.models = {m.name: m for m in models}
        self.variants = {v.name: v for v in variants}
        self.policy = policy
        self.actuator = actuator or Direct(policy.interval_s)
        self.fidelity = fidelity or Fidelity()
        self._rng = np.random.default_rng(seed + 7919)
        self._router = Router(self.fidelity.routing, self.fidelity.routing_refresh_s)
        self._now = 0.0
        self._received: dict[str, int] = {}
        cap = getattr(policy, "max_ongoing_per_replica", None)  # Ray Serve's router holds requests above it
        self._cap: int | None = int(cap) if cap else None
        self._flushing = False
        self.duration_s = duration_s
        self.seed = seed
        self.scrape_s = scrape_interval_s
        self.record_s = record_interval_s
        self.budget = dict(gpu_budget) if gpu_budget is not None else None
        self.tsdb = Tsdb()
        self._pods: dict[str, list[SimPod]] = {v: [] for v in self.variants}
        self._all: list[SimPod] = []
        self._ready_heap: list[tuple[float, int, SimPod]] = []
        self._counter = 0
        self._stats = _Stats()
        self._gateway: dict[str, deque[int]] = {m: deque() for m in self.models}
        self._timeouts = 0
        # global request arrays (all models merged)
        self._arrival: FloatArray = np.zeros(0)
        self._arrival_list: list[float] = []  # the same values as Python floats (cheaper to index one at a time)
        self._prompt: np.ndarray = np.zeros(0, dtype=np.int64)
        self._out: np.ndarray = np.zeros(0, dtype=np.int64)
        self._req_model: list[str] = []
        self._ttft: FloatArray = np.zeros(0)
        self._itl: FloatArray = np.zeros(0)
        self._e2e: FloatArray = np.zeros(0)

    # ---- pods -----------------------------------------------------------------------------------
    def _gpus_in_use(self, accelerator: str) -> int:
        return sum(
            p.variant.profile.gpus
            for p in self._all
            if p.state != STOPPED and p.variant.profile.accelerator == accelerator
        )

    def _create_pod(self, var: SimVariant, now_s: float, ready_now: bool = False) -> bool:
        acc = var.profile.accelerator
        budget = self.budget
        if budget is not None and acc in budget and self._gpus_in_use(acc) + var.profile.gpus > budget[acc]:
            self._stats.budget_denied += 1
            return False
        self._counter += 1
        fid = self.fidelity
        startup = var.startup_s
        if fid.startup_spread > 0:
            startup *= float(self._rng.uniform(1.0 - fid.startup_spread, 1.0 + fid.startup_spread))
        ready_s = now_s if ready_now else now_s + fid.scheduling_delay_s + startup
        pod = SimPod(
            name=f"{var.name}-{self._counter}",
            variant=var,
            replica=ReplicaModel(
                var.profile, seed=self.seed * 100003 + self._counter, start_s=now_s, options=fid.replica
            ),
            created_s=now_s,
            ready_s=ready_s,
        )
        self._pods[var.name].append(pod)
        self._all.append(pod)
        if ready_now:
            pod.state = READY
        else:
            heapq.heappush(self._ready_heap, (ready_s, self._counter, pod))
        return True

    def _counts(self, var: str) -> tuple[int, int]:
        pods = self._pods[var]
        ready = sum(1 for p in pods if p.state == READY)
        starting = sum(1 for p in pods if p.state == STARTING)
        return ready, starting

    def _scale(self, var_name: str, desired: int, now_s: float) -> None:
        var = self.variants[var_name]
        desired = max(var.min_replicas, min(var.max_replicas, desired))
        ready, starting = self._counts(var_name)
        current = ready + starting
        if desired == current:
            return
        if desired > current:
            made = 0
            for _ in range(desired - current):
                if not self._create_pod(var, now_s):
                    break
                made += 1
            if made:
                self._stats.actions.append(ScaleAction(now_s, var_name, current, current + made))
            return
        remove = current - desired
        pods = self._pods[var_name]
        for pod in sorted((p for p in pods if p.state == STARTING), key=lambda p: -p.created_s):
            if remove == 0:
                break
            pod.state = STOPPED
            pod.stopped_s = now_s
            remove -= 1
        if remove:
            live = sorted((p for p in pods if p.state == READY), key=lambda p: (p.replica.load, p.name))
            for pod in live[:remove]:
                pod.state = DRAINING
        self._stats.actions.append(ScaleAction(now_s, var_name, current, desired))

    # ---- requests -------------------------------------------------------------------------------
    def _collect(self, pod: SimPod, done: list[Completed]) -> None:
        if not done:
            return
        arrival = self._arrival_list
        ttft, itl, e2e = self._ttft, self._itl, self._e2e
        for c in done:
            idx = c.request_id
            assert isinstance(idx, int)
            offset = c.arrival_s - arrival[idx]
            ttft[idx] = c.ttft_s + offset
            itl[idx] = c.itl_s
            e2e[idx] = c.e2e_s + offset
            pod.record(c)

    def _route(self, idx: int, model: str, prompt: int, out: int, now_s: float, ready: list[SimPod]) -> None:
        self._now = now_s
        if self._cap is not None:
            if self._gateway[model] and not self._flushing:
                self._gateway[model].append(idx)  # FIFO behind the requests already held
                return
            for pod in ready:
                self._collect(pod, pod.replica.advance(now_s))
            ready = [p for p in ready if p.replica.load < self._cap]
        if not ready:
            self._gateway[model].append(idx)
            return
        best = self._router.pick(model, now_s, ready, self._sync)
        best.replica.submit(idx, prompt, out, now_s)

    def _sync(self, pod: SimPod) -> None:
        self._collect(pod, pod.replica.advance(self._now))

    # ---- observation ----------------------------------------------------------------------------
    def _observe(self, now_s: float) -> Observation:
        gpu_free = None
        if self.budget is not None:
            gpu_free = {acc: cap - self._gpus_in_use(acc) for acc, cap in self.budget.items()}
        models = [
            ModelInfo(m.name, m.priority, len(self._gateway[m.name]), self._received.get(m.name, 0))
            for m in self.models.values()
        ]
        reads_snapshot = bool(getattr(self.policy, "reads_snapshot", False))
        return observation(now_s, self.tsdb, self.variants.values(), self._pods, models, gpu_free, reads_snapshot)

    # ---- main loop ------------------------------------------------------------------------------
    def _scrape(self, now_s: float) -> None:
        for pod in self._all:
            if pod.state not in (READY, DRAINING):
                continue
            self._collect(pod, pod.replica.advance(now_s))
            self.tsdb.append(pod.name, now_s, pod.sample())

    def _housekeeping(self, now_s: float) -> None:
        cutoff = now_s - CLIENT_TIMEOUT_S
        for pod in self._all:
            if pod.state in (READY, DRAINING) and pod.replica.waiting:
                self._timeouts += len(pod.replica.abort_waiting(cutoff))
        for queue in self._gateway.values():
            while queue and self._arrival[queue[0]] < cutoff:
                queue.popleft()
                self._timeouts += 1
        while self._ready_heap and self._ready_heap[0][0] <= now_s:
            _, _, pod = heapq.heappop(self._ready_heap)
            if pod.state == STARTING:
                pod.state = READY
                pod.replica.advance(now_s)
                self._flush_gateway(pod.variant.model, now_s)
        for pod in self._all:
            if pod.state == DRAINING:
                self._collect(pod, pod.replica.advance(now_s))
                if pod.replica.load == 0:
                    pod.state = STOPPED
                    pod.stopped_s = max(pod.last_finish_s, now_s - self.record_s)
                    self.tsdb.forget(pod.name)
        if self._cap is not None:
            for model in self.models:
                self._flush_gateway(model, now_s)

    def _ready_pods(self, model: str) -> list[SimPod]:
        variants = [v for v in self.variants.values() if v.model == model]
        return [p for v in variants for p in self._pods[v.name] if p.state == READY]

    def _flush_gateway(self, model: str, now_s: float) -> None:
        queue = self._gateway[model]
        ready = self._ready_pods(model)
        if not ready:
            return
        trace_of = self._req_model
        cap = self._cap
        self._flushing = True
        while queue:
            if cap is not None and all(p.replica.load >= cap for p in ready):
                break
            idx = queue.popleft()
            self._route(idx, trace_of[idx], int(self._prompt[idx]), int(self._out[idx]), now_s, ready)
        self._flushing = False

    def run(self) -> SimResult:
        wall0 = time.perf_counter()
        names = list(self.models)
        arr = [self.models[n].trace.window(0.0, self.duration_s) for n in names]
        self._arrival = np.concatenate([t.arrival_s for t in arr]) if arr else np.zeros(0)
        self._prompt = np.concatenate([t.prompt_tokens for t in arr])
        self._out = np.concatenate([t.output_tokens for t in arr])
        owner = np.concatenate([np.full(len(t), i) for i, t in enumerate(arr)])
        order = np.argsort(self._arrival, kind="stable")
        self._arrival_list = self._arrival.tolist()
        n = len(order)
        self._ttft = np.full(n, np.nan)
        self._itl = np.full(n, np.nan)
        self._e2e = np.full(n, np.nan)
        self._req_model = [names[i] for i in owner]
        for var in self.variants.values():
            for _ in range(var.initial_replicas):
                self._create_pod(var, 0.0, ready_now=True)
        ready_cache: dict[str, list[SimPod]] = {m: self._ready_pods(m) for m in names}

        interval = self.policy.interval_s
        act = self.actuator
        next_scrape, next_policy, next_record, next_act = 0.0, 0.0, 0.0, 0.0
        rec_t: list[float] = []
        rec_ready: dict[str, list[float]] = {v: [] for v in self.variants}
        rec_cur: dict[str, list[float]] = {v: [] for v in self.variants}
        i = 0
        arrival, prompt, out = self._arrival_list, self._prompt.tolist(), self._out.tolist()
        order_list: list[int] = order.tolist()
        req_model = self._req_model
        received = self._received
        end = self.duration_s
        while True:
            next_ready = self._ready_heap[0][0] if self._ready_heap else math.inf
            t_timer = min(next_scrape, next_policy, next_record, next_ready, next_act, end)
            while i < n:
                idx = order_list[i]
                t_arr = arrival[idx]
                if t_arr >= t_timer:
                    break
                model = req_model[idx]
                received[model] = received.get(model, 0) + 1
                self._route(idx, model, prompt[idx], out[idx], t_arr, ready_cache[model])
                i += 1
            if t_timer >= end:
                break
            now = t_timer
            self._housekeeping(now)
            if now >= next_scrape:
                self._scrape(now)
                next_scrape += self.scrape_s
            if now >= next_policy:
                p0 = time.perf_counter()
                act.publish(now, self.policy.decide(self._observe(now)))
                self._stats.policy_wall_s += time.perf_counter() - p0
                self._stats.policy_calls += 1
                next_policy += interval
            if now >= next_act:
                views = count_views(self.variants.values(), self._pods) if act.mode != "direct" else ()
                for var_name, want in act.apply(now, views).items():
                    if var_name in self.variants:
                        self._scale(var_name, int(want), now)
                self._housekeeping(now)
                next_act += act.interval_s
            if now >= next_record:
                rec_t.append(now)
                for v in self.variants:
                    r, s = self._counts(v)
                    rec_ready[v].append(r)
                    rec_cur[v].append(r + s)
                next_record += self.record_s
            ready_cache = {m: self._ready_pods(m) for m in names}
        return self._finish(names, owner, rec_t, rec_ready, rec_cur, wall0)

    def _finish(
        self,
        names: list[str],
        owner: np.ndarray,
        rec_t: list[float],
        rec_ready: dict[str, list[float]],
        rec_cur: dict[str, list[float]],
        wall0: float,
    ) -> SimResult:
        end = self.duration_s
        for pod in self._all:  # let in-flight requests finish (latencies count; billing stops at `end`)
            if pod.state in (READY, DRAINING):
                self._collect(pod, pod.replica.advance(end + DRAIN_GRACE_S))
        records = [
            pod_record(
                p.variant.name,
                p.variant.profile.gpus,
                p.variant.cost_per_replica,
                p.created_s,
                p.ready_s,
                p.stopped_s,
                end,
            )
            for p in self._all
        ]
        requests = {}
        for k, name in enumerate(names):
            mask = owner == k
            requests[name] = RequestLog(self._arrival[mask], self._ttft[mask], self._itl[mask], self._e2e[mask])
        return SimResult(
            policy=self.policy.name,
            seed=self.seed,
            duration_s=end,
            requests=requests,
            pods=records,
            actions=self._stats.actions,
            timeline_s=np.array(rec_t),
            ready={v: np.array(x) for v, x in rec_ready.items()},
            current={v: np.array(x) for v, x in rec_cur.items()},
            budget_denied=self._stats.budget_denied,
            timeouts=self._timeouts,
            wall_s=time.perf_counter() - wall0,
            policy_calls=self._stats.policy_calls,
            policy_wall_s=self._stats.policy_wall_s,
        )
