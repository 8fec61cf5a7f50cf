"""One model of a vLLM replica, shared by the simulator (virtual time) and the emulator (real time).

Owns request admission, continuous batching, prefill and decode timing, and the counters the vLLM
metrics report. No I/O and no clock: the caller passes `now_s` (virtual seconds in the simulator,
monotonic wall seconds in the emulator).

Model (per replica, numbers from a `Profile`):
- A request waits in a FIFO queue until it is admitted: admission needs `running < max_num_seqs` and
  `KV used + prompt <= 0.9 * KV capacity`, where KV used = prompts of admitted requests + tokens they
  have generated (an over-long prompt is still admitted when the replica is empty, so nothing deadlocks).
- Admitted requests are prefilled first-come-first-served at `prefill_tokens_per_s`; a request's first
  token comes one decode step after its prefill ends (TTFT = queue wait + prefill wait + in/prefill rate
  + one step), its last one `output_tokens - 1` steps later.
- Decode: all decoding requests advance one token per step of `d / (1 - rho)` seconds, with
  `d = (alpha + beta*N_dec + gamma*KV/1000) ms` and `rho` = prompt tokens admitted over the last
  `RHO_WINDOW_S` seconds / (window x prefill rate), capped at `RHO_MAX` - the spec's chunked-prefill rule
  `ITL_eff = d / (1 - rho_prefill)`, `rho_prefill = lambda*in/prefill_tok_s`, with lambda*in measured.
  (A literal chunk-by-chunk model makes every decode step that carries an 8k-token chunk ~250 ms long,
  which is real but makes mean-ITL SLOs of short outputs depend on the chunk size; the brief and the
  reference profile ask for the averaged rule, so that is what this implements.)

Options (`ReplicaOptions`, in `replica_types`; all off by default): recompute preemption, prefix-cache hits,
prefill cost growing with length, a fixed per-request overhead (a request reaches the queue
`request_overhead_s` after submission) and per-step prefill stalls (`prefill_stall`: while prompts are being
prefilled every step lasts `d + c / prefill_tokens_per_s` for its chunk of `c` prompt tokens, as vLLM's
chunked prefill with a token budget of `max_num_batched_tokens` per step, decodes first; fluid like the rest).

Why event-driven fluid and not step-by-step: stepping every ~10 ms engine iteration would cost
~100 Python iterations per replica per simulated second (far too slow for an hour at 50 req/s). Between
events (arrival/admission, prefill end, first token, completion, a rho refresh at most every 0.5 s) the
batch is fixed, so all decoding requests advance at one common rate; the model keeps a shared "decode
step counter" `v` and a heap of the step at which each request emits its first and last token. One event
costs O(log batch). Step times are recomputed at every event from the current N and KV (KV growth
between events is ignored, a sub-percent effect at the event rates seen here). Fractional steps are
allowed (fluid).

Public API (stable; the emulator imports it): `ReplicaModel(profile, seed=0, start_s=0.0)`,
`submit(request_id, prompt_tokens, output_tokens, now_s)`, `advance(now_s) -> list[Completed]`,
`next_event_s()`, `state() -> ReplicaState`, `abort_waiting(arrived_before_s)`, properties `running`,
`waiting`, `load`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Hashable

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica_types import Completed, ReplicaOptions, ReplicaState

__all__ = ["RHO_WINDOW_S", "Completed", "ReplicaModel", "ReplicaOptions", "ReplicaState"]

KV_ADMISSION_RATIO = 0.9
RHO_WINDOW_S = 5.0
RHO_MAX = 0.95
RHO_REFRESH_S = 0.5
_INF = math.inf
_FIRST = 0
_LAST = 1


class _Req:
    __slots__ = (
        "admit_s",
        "arrival_s",
        "first_done",
        "first_s",
        "generated",
        "live_seq",
        "output",
        "prompt",
        "rid",
        "vstart",
    )

    def __init__(self, rid: Hashable, prompt: int, output: int, arrival_s: float) -> None:
        self.rid = rid
        self.prompt = prompt
        self.output = output
        self.arrival_s = arrival_s
        self.admit_s = arrival_s
        self.first_s = arrival_s
        self.vstart = 0.0
        self.live_seq = -1  # seq of its live heap entry (others are stale after a preemption)
        self.generated = 0.0  # tokens generated before a preemption
        self.first_done = False


class ReplicaModel:
    """A vLLM replica in virtual or real time (see the module docstring for the model)."""

    def __init__(
        self, profile: Profile, seed: int = 0, start_s: float = 0.0, options: ReplicaOptions | None = None
    ) -> None:
        self.profile = profile
        self.options = options or ReplicaOptions()
        # Reserved for jitter; the model is deterministic so that tests can use closed forms.
        self.rng = random.Random(seed)
        self._t = start_s
        self._v = 0.0
        self._waiting: deque[_Req] = deque()
        self._inbound: deque[tuple[float, _Req]] = deque()  # (reaches the queue at, request): request_overhead_s
        self._prefill: deque[_Req] = deque()
        self._head_left = 0.0
        self._heap: list[tuple[float, int, int, _Req]] = []
        self._seq = 0
        self._n_dec = 0
        self._sum_vstart = 0.0
        self._kv_prompt = 0
        self._prompt_total = 0
        self._gen_done = 0
        self._success = 0
        self._submitted = 0
        self._dv_rate = 0.0
        self._pf_rate = 0.0
        self.next_t = _INF  # read-only for callers: time of the next internal event (inf when idle)
        self._done: list[Completed] = []
        self.preemptions = 0  # vllm:num_preemptions_total
        self._recent: deque[tuple[float, int]] = deque()  # (admit time, prompt tokens) inside the rho window
        self._recent_tokens = 0
        self._kv_limit = KV_ADMISSION_RATIO * profile.kv_capacity_tokens

    # ---- public API -------------------------------------------------------------------------
    @property
    def running(self) -> int:
        """Admitted requests (prefilling or decoding), as `vllm:num_requests_running`."""
        return self._n_dec + len(self._prefill)

    @property
    def waiting(self) -> int:
        """Queued requests, as `vllm:num_requests_waiting`."""
        return len(self._waiting)

    @property
    def load(self) -> int:
        """Running + waiting + on the way in (what a least-loaded router compares)."""
        return self._n_dec + len(self._prefill) + len(self._waiting) + len(self._inbound)

    def next_event_s(self) -> float | None:
        """Time of the next internal event (a token boundary that changes state), or None if idle."""
        return None if self.next_t == _INF else self.next_t

    def submit(self, request_id: Hashable, prompt_tokens: int, output_tokens: int, now_s: float) -> None:
        """Enqueue a request arriving at `now_s` (the model first advances to `now_s`)."""
        if prompt_tokens < 0:
            raise ValueError(f"prompt_tokens must be >= 0, got {prompt_tokens}")
        if output_tokens < 1:
            raise ValueError(f"output_tokens must be >= 1, got {output_tokens}")
        self._run_to(now_s)
        self._submitted += 1
        req = _Req(request_id, prompt_tokens, output_tokens, max(now_s, self._t))
        if self.options.request_overhead_s > 0.0:
            self._inbound.append((req.arrival_s + self.options.request_overhead_s, req))
        else:
            self._waiting.append(req)
        self._admit()
        self._update_rates()

    def advance(self, now_s: float) -> list[Completed]:
        """Advance to `now_s`; return the requests completed since the last call (oldest first)."""
        self._run_to(now_s)
        done = self._done
        self._done = []
        return done

    def abort_waiting(self, arrived_before_s: float) -> list[Hashable]:
        """Drop queued (not yet admitted) requests that arrived before `arrived_before_s` - a client
        timeout; vLLM aborts a request whose client disconnected. Returns their ids, oldest first."""
        dropped: list[Hashable] = []
        waiting = self._waiting
        while waiting and waiting[0].arrival_s < arrived_before_s:
            dropped.append(waiting.popleft().rid)
        return dropped

    def state(self) -> ReplicaState:
        """Gauges and counters at the time of the last `advance`/`submit`."""
        kv = self._kv_used()
        gen_running = self._n_dec * self._v - self._sum_vstart
        cap = self.profile.kv_capacity_tokens
        return ReplicaState(
            now_s=self._t,
            running=self.running,
            waiting=len(self._waiting),
            prefilling=len(self._prefill),
            kv_used_tokens=kv,
            kv_capacity_tokens=cap,
            kv_usage_ratio=min(1.0, kv / cap),
            prompt_tokens_total=self._prompt_total,
            generation_tokens_total=self._gen_done + max(0.0, gen_running),
            success_total=self._success,
            submitted_total=self._submitted,
        )

    # ---- internals --------------------------------------------------------------------------
    def _kv_used(self) -> float:
        return self._kv_prompt + (self._n_dec * self._v - self._sum_vstart)

    def _run_to(self, now_s: float) -> None:
        while self.next_t <= now_s:
            self._progress(self.next_t)
            self._fire()
        if now_s > self._t:
            self._progress(now_s)

    def _progress(self, t: float) -> None:
        dt = t - self._t
        if dt > 0.0:
            self._v += self._dv_rate * dt
            if self._prefill:
                self._head_left -= self._pf_rate * dt
            self._t = t

    def _fire(self) -> None:
        inbound = self._inbound
        while inbound and inbound[0][0] <= self._t + 1e-12:
            self._waiting.append(inbound.popleft()[1])
        heap = self._heap
        t_dec = _INF
        if heap and self._dv_rate > 0.0:
            t_dec = self._t + max(0.0, heap[0][0] - self._v) / self._dv_rate
        t_pf = _INF
        if self._prefill and self._pf_rate > 0.0:
            t_pf = self._t + max(0.0, self._head_left) / self._pf_rate
        if t_pf <= t_dec and t_pf <= self.next_t + 1e-12:
            self._finish_prefill()
        elif t_dec <= self.next_t + 1e-12:
            self._decode_event()
        # else: a prompt left the rho window; only the rates change
        self._admit()
        self._update_rates()

    def _finish_prefill(self) -> None:
        req = self._prefill.popleft()
        self._head_left = self._work(self._prefill[0].prompt) if self._prefill else 0.0
        self._prompt_total += req.prompt
        req.vstart = self._v - req.generated  # a preempted request resumes where it was (recomputed prefill)
        self._n_dec += 1
        if self.options.prefill_stall and not req.first_done:
            req.first_s = self._t  # the step that ends the prefill samples the first token
            req.first_done = True
            req.vstart -= 1.0
        self._sum_vstart += req.vstart
        self._seq += 1
        req.live_seq = self._seq
        if req.first_done:
            heapq.heappush(self._heap, (req.vstart + req.output, self._seq, _LAST, req))
        elif req.output == 1:
            heapq.heappush(self._heap, (self._v + 1.0, self._seq, _LAST, req))
        else:
            heapq.heappush(self._heap, (self._v + 1.0, self._seq, _FIRST, req))

    def _decode_event(self) -> None:
        heap = self._heap
        target = heap[0][0]
        if target > self._v:
            self._v = target
        now = self._t
        while heap and heap[0][0] <= self._v + 1e-9:
            _, seq, kind, req = heapq.heappop(heap)
            if seq != req.live_seq:
                continue  # stale entry of a preempted request
            if kind == _FIRST:
                req.first_s = now
                req.first_done = True
                self._seq += 1
                req.live_seq = self._seq
                heapq.heappush(heap, (req.vstart + req.output, self._seq, _LAST, req))
                continue
            if req.output == 1:
                req.first_s = now
            self._n_dec -= 1
            self._sum_vstart -= req.vstart
            self._kv_prompt -= req.prompt
            self._gen_done += req.output
            self._success += 1
            itl = (now - req.first_s) / (req.output - 1) if req.output > 1 else 0.0
            self._done.append(
                Completed(
                    request_id=req.rid,
                    arrival_s=req.arrival_s,
                    prompt_tokens=req.prompt,
                    output_tokens=req.output,
                    queue_s=max(0.0, req.admit_s - req.arrival_s - self.options.request_overhead_s),
                    ttft_s=req.first_s - req.arrival_s,
                    itl_s=itl,
                    e2e_s=now - req.arrival_s,
                    finish_s=now,
                )
            )
        if self._n_dec == 0:
            self._sum_vstart = 0.0
        if self.options.preemption:
            while self._n_dec > 1 and self._kv_used() > self.profile.kv_capacity_tokens:
                self._preempt_newest()

    def _preempt_newest(self) -> None:
        """vLLM's recompute preemption: the newest decoding request leaves the batch for the queue's head."""
        live = [e[3] for e in self._heap if e[1] == e[3].live_seq]
        req = max(live, key=lambda r: r.vstart)
        req.generated = self._v - req.vstart
        req.live_seq = -1
        self._n_dec -= 1
        self._sum_vstart -= req.vstart
        self._kv_prompt -= req.prompt
        self.preemptions += 1
        self._waiting.appendleft(req)

    def _admit(self) -> None:
        waiting = self._waiting
        max_seqs = self.profile.max_num_seqs
        while waiting:
            running = self._n_dec + len(self._prefill)
            if running >= max_seqs:
                return
            head = waiting[0]
            if running > 0 and self._kv_used() + head.prompt > self._kv_limit:
                return
            waiting.popleft()
            head.admit_s = self._t
            work = round(self._work(head.prompt))
            self._recent.append((self._t, work))
            self._recent_tokens += work
            if not self._prefill:
                self._head_left = self._work(head.prompt)
            self._prefill.append(head)
            self._kv_prompt += head.prompt

    def _work(self, prompt: int) -> float:
        """Prefill tokens a prompt costs: less its prefix-cache hits, more when attention cost grows with length."""
        opt = self.options
        if opt.prefix_hit_ratio == 0.0 and opt.prefill_growth_per_1k == 0.0:
            return float(prompt)
        miss = prompt * (1.0 - opt.prefix_hit_ratio)
        return miss * (1.0 + opt.prefill_growth_per_1k * prompt / 1000.0)

    def _rho(self) -> float:
        recent = self._recent
        horizon = self._t - RHO_WINDOW_S + 1e-9
        while recent and recent[0][0] <= horizon:
            self._recent_tokens -= recent.popleft()[1]
        rho = self._recent_tokens / (RHO_WINDOW_S * self.profile.prefill_tokens_per_s)
        return min(RHO_MAX, rho)

    def _update_rates(self) -> None:
        prof = self.profile
        n_dec = self._n_dec
        stall = self.options.prefill_stall
        use_rho = self.options.prefill_slows_decode and not stall
        rho = self._rho() if use_rho else 0.0
        dv = 0.0
        if stall and self._prefill:  # steps carry a prefill chunk: decode and prefill share each step
            pending = max(0.0, self._head_left) + sum(
                self._work(r.prompt) for r in itertools.islice(self._prefill, 1, None)
            )
            chunk = max(1.0, min(float(max(1, prof.max_num_batched_tokens - n_dec)), pending))
            step = prof.step_s(n_dec, self._kv_used(), chunk)
            dv = 1.0 / step if n_dec > 0 else 0.0
            pf = chunk / step
        else:
            if n_dec > 0:
                dv = (1.0 - rho) / prof.itl_s(n_dec, self._kv_used())
            pf = prof.prefill_tokens_per_s if self._prefill else 0.0
        self._dv_rate = dv
        self._pf_rate = pf
        t_next = _INF
        if self._heap and dv > 0.0:
            t_next = self._t + max(0.0, self._heap[0][0] - self._v) / dv
            if use_rho and self._recent:  # refresh rho when a prompt leaves the window, at most every RHO_REFRESH_S
                expiry = max(self._recent[0][0] + RHO_WINDOW_S, self._t + RHO_REFRESH_S)
                t_next = min(t_next, expiry)
        if self._prefill:
            t_next = min(t_next, self._t + max(0.0, self._head_left) / pf)
        if self._inbound:
            t_next = min(t_next, self._inbound[0][0])
        self.next_t = t_next
