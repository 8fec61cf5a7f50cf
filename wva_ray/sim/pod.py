"""One simulated pod: its replica model, lifecycle state and the counters its /metrics would show. Pure, no I/O.

States: STARTING (billed, not routable, no metrics) -> READY -> DRAINING (no new requests, billed until empty) ->
STOPPED. `record` adds a completed request to the counters (vLLM's request_success_total, prompt/generation token
totals, the _sum/_count of the inter-token, TTFT and queue-time histograms); `sample` is one scrape's row in the
`Tsdb` field order of wva_ray.sim.observe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wva_ray.sim.model.replica import Completed, ReplicaModel
from wva_ray.sim.records import SimVariant
from wva_ray.sim.render import STARTING


@dataclass(eq=False)
class SimPod:
    name: str
    variant: SimVariant
    replica: ReplicaModel
    created_s: float
    ready_s: float
    state: int = STARTING
    stopped_s: float = math.inf
    last_finish_s: float = 0.0
    prompt_done: float = 0.0
    gen_done: float = 0.0
    done: int = 0
    itl_sum_s: float = 0.0
    itl_tokens: float = 0.0
    ttft_sum_s: float = 0.0
    queue_sum_s: float = 0.0

    def record(self, c: Completed) -> None:
        self.prompt_done += c.prompt_tokens
        self.gen_done += c.output_tokens
        self.done += 1
        if c.output_tokens > 1:
            self.itl_sum_s += c.itl_s * (c.output_tokens - 1)
            self.itl_tokens += c.output_tokens - 1
        self.ttft_sum_s += c.ttft_s
        self.queue_sum_s += c.queue_s
        self.last_finish_s = c.finish_s

    def sample(self) -> tuple[float, ...]:
        st = self.replica.state()
        return (
            st.kv_usage_ratio,
            st.waiting,
            st.running,
            self.done,
            self.prompt_done,
            self.gen_done,
            self.itl_sum_s,
            self.itl_tokens,
            self.ttft_sum_s,
            self.queue_sum_s,
        )
