"""Request traces: loaders for the public trace files, transforms, and a synthetic generator.

Owns the `Trace` value (sorted arrival times in seconds from 0, prompt and output token counts as numpy
arrays). `load_trace` reads files (Azure 2023 CSV with CRLF endings, Mooncake FAST'25 JSONL); everything
else is pure and seeded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Trace:
    """Requests sorted by arrival; `arrival_s` starts at or after 0."""

    arrival_s: FloatArray
    prompt_tokens: IntArray
    output_tokens: IntArray

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if len(self.prompt_tokens) != n or len(self.output_tokens) != n:
            raise ValueError(
                f"trace arrays differ in length: arrival_s {n}, prompt_tokens {len(self.prompt_tokens)}, "
                f"output_tokens {len(self.output_tokens)}"
            )

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1]) if len(self) else 0.0

    def window(self, start_s: float, end_s: float) -> Trace:
        """Requests with start_s <= arrival < end_s, re-based to start at 0."""
        mask = (self.arrival_s >= start_s) & (self.arrival_s < end_s)
        return Trace(self.arrival_s[mask] - start_s, self.prompt_tokens[mask], self.output_tokens[mask])

    def time_scaled(self, factor: float) -> Trace:
        """Stretch time by `factor` (0.5 = twice the rate over half the span)."""
        if factor <= 0:
            raise ValueError(f"time scale factor must be > 0, got {factor}")
        return Trace(self.arrival_s * factor, self.prompt_tokens, self.output_tokens)

    def rate_per_bin(self, bin_s: float, duration_s: float | None = None) -> FloatArray:
        """Arrivals per second in consecutive bins of `bin_s` seconds."""
        span = self.duration_s if duration_s is None else duration_s
        nbins = max(1, int(np.ceil(span / bin_s)))
        counts = np.bincount(np.minimum((self.arrival_s // bin_s).astype(np.int64), nbins - 1), minlength=nbins)
        return counts[:nbins].astype(np.float64) / bin_s


def _sorted(arr: FloatArray, prompt: IntArray, out: IntArray) -> Trace:
    order = np.argsort(arr, kind="stable")
    start = float(arr[order[0]]) if len(arr) else 0.0
    return Trace(
        (arr[order] - start).astype(np.float64),
        prompt[order].astype(np.int64),
        np.maximum(out[order], 1).astype(np.int64),
    )


def load_azure_csv(path: Path) -> Trace:
    """Azure LLM inference trace 2023: TIMESTAMP, ContextTokens, GeneratedTokens (CRLF)."""
    frame = pd.read_csv(path)
    missing = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    ts = pd.to_datetime(frame["TIMESTAMP"].str.strip())
    secs = (ts - ts.min()).dt.total_seconds().to_numpy(dtype=np.float64)
    return _sorted(
        secs,
        frame["ContextTokens"].to_numpy(dtype=np.int64),
        frame["GeneratedTokens"].to_numpy(dtype=np.int64),
    )


def load_mooncake_jsonl(path: Path) -> Trace:
    """Mooncake FAST'25 trace: timestamp (ms), input_length, output_length per JSON line."""
    ts: list[float] = []
    ins: list[int] = []
    outs: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            try:
                ts.append(float(rec["timestamp"]) / 1000.0)
                ins.append(int(rec["input_length"]))
                outs.append(int(rec["output_length"]))
            except KeyError as exc:
                raise ValueError(f"{path}:{lineno}: missing field {exc}") from exc
    return _sorted(np.array(ts), np.array(ins, dtype=np.int64), np.array(outs, dtype=np.int64))


def load_trace(path: Path) -> Trace:
    """Load by suffix: `.csv` (Azure) or `.jsonl` (Mooncake)."""
    if path.suffix == ".csv":
        return load_azure_csv(path)
    if path.suffix == ".jsonl":
        return load_mooncake_jsonl(path)
    raise ValueError(f"unknown trace format for {path}: expected .csv or .jsonl")


def merge(traces: Sequence[Trace]) -> Trace:
    """Superpose several traces on one time axis."""
    return _sorted(
        np.concatenate([t.arrival_s for t in traces]),
        np.concatenate([t.prompt_tokens for t in traces]),
        np.concatenate([t.output_tokens for t in traces]),
    )


def rate_multiplied(trace: Trace, factor: float, jitter_s: float = 30.0, seed: int = 0) -> Trace:
    """Multiply the rate by superposing time-shifted copies (+-jitter_s, wrapped over the span).

    The integer part of `factor` gives whole copies (the first unshifted), the fraction a thinned copy.
    """
    if factor <= 0:
        raise ValueError(f"rate factor must be > 0, got {factor}")
    rng = np.random.default_rng(seed)
    span = max(trace.duration_s, 1e-9)
    copies: list[Trace] = []
    whole = int(np.floor(factor))
    frac = factor - whole
    for i in range(whole + (1 if frac > 1e-9 else 0)):
        shift = 0.0 if i == 0 else float(rng.uniform(-jitter_s, jitter_s))
        arr = np.mod(trace.arrival_s + shift, span)
        keep = np.ones(len(trace), dtype=bool) if i < whole else rng.random(len(trace)) < frac
        copies.append(Trace(arr[keep], trace.prompt_tokens[keep], trace.output_tokens[keep]))
    return merge(copies)


# ---- synthetic generator ---------------------------------------------------------------------


class RateShape(BaseModel):
    """Arrival rate over time (req/s). `points` is piecewise linear [[t_s, rate], ...]; the rest add on top.

    - `diurnal`: base + amp * exp(-(h - peak_hour)^2 / (2 sigma_h^2)) (+ second bump), h = hour of day;
      `start_hour` maps t=0 to that hour.
    - `square`: alternates `low`/`high` every half `period_s` between `start_s` and `end_s`.
    - `bursts`: Poisson bursts (`per_hour`), multiplier in [`min_mult`, `max_mult`], duration in
      [`min_s`, `max_s`].
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: list[tuple[float, float]] = Field(default_factory=list)
    diurnal: dict[str, float] | None = None
    square: dict[str, float] | None = None
    bursts: dict[str, float] | None = None
    scale: float = 1.0

    def rates(self, t_s: FloatArray, seed: int = 0) -> FloatArray:
        out = np.zeros_like(t_s)
        if self.points:
            xs = np.array([p[0] for p in self.points], dtype=np.float64)
            ys = np.array([p[1] for p in self.points], dtype=np.float64)
            out += np.interp(t_s, xs, ys)
        if self.diurnal is not None:
            d = self.diurnal
            hour = (d.get("start_hour", 0.0) + t_s / 3600.0) % 24.0
            sig = d.get("sigma_h", 3.0)
            peak = d.get("peak_hour", 19.0)
            amp = d.get("amp", 80.0)
            dist = np.minimum(np.abs(hour - peak), 24.0 - np.abs(hour - peak))
            out += d.get("base", 7.5) + amp * np.exp(-(dist**2) / (2 * sig**2))
            if d.get("second_amp_ratio", 0.0) > 0:
                h2 = d.get("second_hour", 2.0)
                dist2 = np.minimum(np.abs(hour - h2), 24.0 - np.abs(hour - h2))
                out += d["second_amp_ratio"] * amp * np.exp(-(dist2**2) / (2 * sig**2))
        if self.square is not None:
            q = self.square
            start, end, period = q.get("start_s", 0.0), q.get("end_s", np.inf), q["period_s"]
            inside = (t_s >= start) & (t_s < end)
            high = ((t_s - start) % period) < period / 2
            out = np.where(inside, np.where(high, q["high"], q["low"]), out)
        if self.bursts is not None:
            out = out * _burst_multiplier(t_s, self.bursts, seed)
        return np.maximum(out * self.scale, 0.0)


def _burst_multiplier(t_s: FloatArray, spec: dict[str, float], seed: int) -> FloatArray:
    rng = np.random.default_rng(seed + 7919)
    mult = np.ones_like(t_s)
    if len(t_s) == 0:
        return mult
    horizon = float(t_s[-1])
    t = 0.0
    while True:
        t += rng.exponential(3600.0 / spec.get("per_hour", 2.0))
        if t >= horizon:
            return mult
        dur = rng.uniform(spec.get("min_s", 60.0), spec.get("max_s", 300.0))
        amp = rng.uniform(spec.get("min_mult", 2.0), spec.get("max_mult", 4.0))
        inside = (t_s >= t) & (t_s < t + dur)
        mult[inside] = np.maximum(mult[inside], amp)


class TokenDist(BaseModel):
    """Independent lognormal token lengths (mean/std of ln tokens), clipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_mu: float
    in_sigma: float = Field(ge=0)
    out_mu: float
    out_sigma: float = Field(ge=0)
    max_in: int = Field(default=32768, ge=1)
    max_out: int = Field(default=2000, ge=1)


TOKEN_PRESETS: dict[str, TokenDist] = {
    "azure-conv": TokenDist(in_mu=6.63, in_sigma=0.99, out_mu=5.02, out_sigma=0.86),
    "azure-code": TokenDist(in_mu=7.00, in_sigma=1.36, out_mu=2.79, out_sigma=0.85),
    "long-chat": TokenDist(in_mu=8.74, in_sigma=1.20, out_mu=5.34, out_sigma=1.36, max_in=126000),
}


def synthesize(
    shape: RateShape,
    duration_s: float,
    tokens: TokenDist,
    arrivals: Literal["poisson", "gamma"] = "poisson",
    cv: float = 1.0,
    seed: int = 0,
    grid_s: float = 1.0,
) -> Trace:
    """Draw a trace: a renewal process (Poisson, or Gamma with inter-arrival CV `cv`) in operational
    time, mapped through the cumulative rate (time rescaling), with lognormal token lengths."""
    rng = np.random.default_rng(seed)
    grid = np.arange(0.0, duration_s + grid_s, grid_s)
    rate = shape.rates(grid, seed)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid))])
    total = float(cum[-1])
    if total <= 0:
        empty_i = np.zeros(0, dtype=np.int64)
        return Trace(np.zeros(0), empty_i, empty_i)
    n_draw = int(total + 10 * np.sqrt(total) * max(cv, 1.0) + 100)
    poisson = arrivals == "poisson" or cv == 1.0
    k = 1.0 / (cv * cv) if cv > 0 else 1.0

    def draw() -> FloatArray:
        return rng.exponential(1.0, n_draw) if poisson else rng.gamma(k, 1.0 / k, n_draw)

    ops = np.cumsum(draw())
    while ops[-1] < total:
        ops = np.concatenate([ops, ops[-1] + np.cumsum(draw())])
    ops = ops[ops < total]
    arr = np.interp(ops, cum, grid)
    arr = arr[arr < duration_s]
    n = len(arr)
    prompt = np.clip(np.rint(rng.lognormal(tokens.in_mu, tokens.in_sigma, n)), 1, tokens.max_in)
    out = np.clip(np.rint(rng.lognormal(tokens.out_mu, tokens.out_sigma, n)), 1, tokens.max_out)
    return Trace(arr.astype(np.float64), prompt.astype(np.int64), out.astype(np.int64))
