"""`wva-ray loadgen`: replay a trace file or a synthetic load against completions endpoints and print the
latency summary (optionally every request as JSON lines). Does file and network I/O (via `loadgen`).

Registered on the `wva-ray` app by `cli.__init__` (`register(app)`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import typer

from wva_ray.sim.loadgen import LoadSpec, replay, synthetic_trace
from wva_ray.sim.model.traces import Trace, load_trace


def _parse_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        start, end = (float(x) for x in text.split(":"))
    except ValueError as exc:
        raise ValueError(f"--window must be START:END in trace seconds, got {text!r}") from exc
    if end <= start:
        raise ValueError(f"--window end must be after start, got {text!r}")
    return start, end


def _jsonable(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


def loadgen(
    url: list[str] = typer.Option(..., "--url", help="base URL of an endpoint (repeat for several)"),
    model: str = typer.Option(..., "--model", help="model name sent in each request"),
    trace_file: Path | None = typer.Option(None, "--trace", help="Azure 2023 .csv or Mooncake .jsonl trace"),
    window: str | None = typer.Option(None, "--window", help="START:END trace seconds to replay"),
    rate: float = typer.Option(1.0, "--rate", min=0.0, help="synthetic load: requests per second"),
    duration: float = typer.Option(60.0, "--duration", min=0.0, help="synthetic load: trace seconds"),
    tokens: str = typer.Option("azure-conv", "--tokens", help="synthetic token lengths preset"),
    arrivals: str = typer.Option("poisson", "--arrivals", help="synthetic arrivals: poisson or gamma"),
    cv: float = typer.Option(1.0, "--cv", min=0.0, help="gamma arrivals: inter-arrival coefficient of variation"),
    seed: int = typer.Option(0, "--seed"),
    time_scale: float = typer.Option(1.0, "--time-scale", min=1e-6, help="wall seconds per trace second"),
    max_requests: int = typer.Option(10_000, "--max-requests", min=0),
    max_duration: float = typer.Option(300.0, "--max-duration", min=0.0, help="stop dispatching after (wall s)"),
    records: Path | None = typer.Option(None, "--records", help="write every request as JSON lines here"),
) -> None:
    """Replay a trace (or synthetic load) against OpenAI-compatible completions endpoints."""
    try:
        if trace_file is not None:
            trace: Trace = load_trace(trace_file)
            win = _parse_window(window)
            if win is not None:
                trace = trace.window(*win)
        else:
            if arrivals not in ("poisson", "gamma"):
                raise ValueError(f"--arrivals must be poisson or gamma, got {arrivals!r}")
            trace = synthetic_trace(rate, duration, tokens, "gamma" if arrivals == "gamma" else "poisson", cv, seed)
        spec = LoadSpec(model=model, time_scale=time_scale, max_requests=max_requests, max_duration_s=max_duration)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    result = asyncio.run(replay(trace, url, spec))
    if records is not None:
        with records.open("w", encoding="utf-8") as fh:
            for rec in result.records:
                fh.write(json.dumps(dataclasses.asdict(rec)) + "\n")
    typer.echo(json.dumps({k: _jsonable(v) for k, v in result.summary().items()}, indent=1))


def register(app: typer.Typer) -> None:
    """Add the `loadgen` sub-command to the `wva-ray` app."""
    app.command("loadgen")(loadgen)
