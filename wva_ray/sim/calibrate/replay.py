"""One fixed request sequence for the calibration, replayed through the replica model. Pure (no I/O, no clock).

`scaled_sequence` cuts a window of a real trace (arrival times kept, optionally sped up) and scales its token
lengths to the tiny model (clamped so prompt + output fit `max_model_len`). `simulate` submits the same
sequence to `ReplicaModel` with a fitted profile and samples its state every `sample_every_s`, the way the real
side samples `/metrics`, so both sides yield the same `ReplayResult` shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.replica import ReplicaModel, ReplicaOptions
from wva_ray.sim.model.traces import Trace


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    at_s: float
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    """How a trace window becomes the calibration sequence."""

    start_s: float = 0.0
    duration_s: float = 120.0
    speed: float = 1.0  # >1 compresses arrivals (more load)
    prompt_scale: float = 0.125
    output_scale: float = 0.5
    min_prompt: int = 8
    max_prompt: int = 600
    min_output: int = 4
    max_output: int = 256


def scaled_sequence(trace: Trace, spec: SequenceSpec) -> list[ReplayRequest]:
    if spec.speed <= 0:
        raise ValueError(f"speed must be > 0, got {spec.speed}")
    window = trace.window(spec.start_s, spec.start_s + spec.duration_s * spec.speed).time_scaled(1.0 / spec.speed)
    out = []
    for at, p, o in zip(window.arrival_s, window.prompt_tokens, window.output_tokens, strict=True):
        prompt = int(min(spec.max_prompt, max(spec.min_prompt, round(float(p) * spec.prompt_scale))))
        output = int(min(spec.max_output, max(spec.min_output, round(float(o) * spec.output_scale))))
        out.append(ReplayRequest(round(float(at), 4), prompt, output))
    if not out:
        raise ValueError(f"the trace has no request in [{spec.start_s}, {spec.start_s + spec.duration_s * spec.speed})")
    return out


@dataclass(frozen=True, slots=True)
class StateSample:
    """Gauges at `t_s` (seconds from the replay start) and completions so far."""

    t_s: float
    running: float
    waiting: float
    kv_ratio: float
    completed: float


@dataclass(frozen=True, slots=True)
class Latency:
    start_s: float
    ttft_s: float
    itl_s: float
    ok: bool


@dataclass(frozen=True)
class ReplayResult:
    samples: list[StateSample]
    latencies: list[Latency]


def simulate(
    profile: Profile,
    requests: Sequence[ReplayRequest],
    sample_every_s: float = 1.0,
    tail_s: float = 60.0,
    options: ReplicaOptions | None = None,
) -> ReplayResult:
    """The sequence through the replica model (with `options`, default: the default model); sampling runs until
    every request finished (or `tail_s` after the last arrival)."""
    model = ReplicaModel(profile, options=options)
    reqs = sorted(requests, key=lambda r: r.at_s)
    latencies: list[Latency] = []
    samples: list[StateSample] = []
    end_s = (reqs[-1].at_s if reqs else 0.0) + tail_s
    i = 0
    t = 0.0
    while t <= end_s:
        while i < len(reqs) and reqs[i].at_s <= t:
            r = reqs[i]
            model.submit(i, r.prompt_tokens, r.output_tokens, r.at_s)
            i += 1
        for done in model.advance(t):
            latencies.append(Latency(done.arrival_s, done.ttft_s, done.itl_s, True))
        st = model.state()
        samples.append(StateSample(t, st.running, st.waiting, st.kv_usage_ratio, st.success_total))
        if i == len(reqs) and model.load == 0:
            break
        t = round(t + sample_every_s, 6)
    return ReplayResult(samples, sorted(latencies, key=lambda x: x.start_s))
