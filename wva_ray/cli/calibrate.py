"""`wva-ray calibrate`: fit the replica model's profile to a REAL vLLM engine on this machine, replay one trace
window through both, and write the comparison (results.json, README.md, plot.png). Does process, file and
network I/O (through `wva_ray.testing.vllm_engine` / `vllm_calibrate`); needs the engine environment of
scripts/setup.d/40-vllm-engine.sh.

Each repeat measures the profile again and replays the same sequence again, so the spread over repeats covers
both the fit and the replay on a shared, noisy machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from wva_ray.sim.calibrate.compare import Comparison, compare
from wva_ray.sim.calibrate.fit import fit_decode, fit_prefill, fitted_profile
from wva_ray.sim.calibrate.replay import ReplayRequest, SequenceSpec, scaled_sequence, simulate
from wva_ray.sim.calibrate.report import markdown, write_plot
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.traces import load_trace
from wva_ray.testing.vllm_calibrate import measure_decode, measure_prefill, replay_real
from wva_ray.testing.vllm_engine import EngineEnv, EngineEnvError, EngineSpec, EngineStartError, VllmEngine

PROFILE_ID = "tiny-llama/CPU"


async def _repeat(
    engine: VllmEngine, requests: list[ReplayRequest], window_s: float, duration_s: float, seed: int
) -> tuple[Profile, Comparison, dict[str, Any]]:
    decode = fit_decode(await measure_decode(engine, seed=seed))
    prefill = fit_prefill(await measure_prefill(engine, seed=seed))
    spec = engine.spec
    profile = fitted_profile(
        PROFILE_ID,
        spec.served_model_name,
        decode,
        prefill,
        kv_capacity_tokens=spec.kv_capacity_tokens or 0,
        max_num_seqs=spec.max_num_seqs,
        max_num_batched_tokens=spec.max_num_batched_tokens or 2048,
        block_size=spec.block_size,
        startup_s=engine.startup_s or 0.0,
    )
    real = await replay_real(engine, requests, seed=seed)
    model = simulate(profile, requests)
    fits = {"decode": dataclasses.asdict(decode), "prefill": dataclasses.asdict(prefill)}
    return profile, compare(real, model, window_s, duration_s), fits


def calibrate(
    trace: Path = typer.Option(..., "--trace", help="Azure 2023 .csv or Mooncake .jsonl trace (../shared/data/traces)"),
    start: float = typer.Option(600.0, "--start", min=0.0, help="trace second where the window starts"),
    duration: float = typer.Option(120.0, "--duration", min=10.0, help="replay length (wall seconds)"),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="arrival-time compression (>1: more load)"),
    prompt_scale: float = typer.Option(0.125, "--prompt-scale", min=0.0, help="token lengths scaled to the tiny model"),
    output_scale: float = typer.Option(0.25, "--output-scale", min=0.0),
    repeats: int = typer.Option(3, "--repeats", min=1, max=10),
    window: float = typer.Option(10.0, "--window", min=1.0, help="seconds per row of the side-by-side table"),
    max_num_seqs: int = typer.Option(8, "--max-num-seqs", min=1),
    num_gpu_blocks: int = typer.Option(256, "--num-gpu-blocks", min=2, help="KV cache blocks of the engine"),
    block_size: int = typer.Option(32, "--block-size", min=1),
    max_num_batched_tokens: int = typer.Option(2048, "--max-num-batched-tokens", min=1),
    output: Path = typer.Option(Path("benchmarks/results/calibration"), "--output"),
) -> None:
    """Calibrate the replica model against a real vLLM engine (see the module docstring)."""
    try:
        env = EngineEnv.locate()
        seq = SequenceSpec(start_s=start, duration_s=duration, speed=speed, prompt_scale=prompt_scale,
                           output_scale=output_scale, max_prompt=600, max_output=256)  # fmt: skip
        requests = scaled_sequence(load_trace(trace), seq)
    except (EngineEnvError, OSError, ValueError) as exc:
        typer.echo(f"wva-ray: error: {exc}", err=True)
        raise typer.Exit(2) from exc
    spec = EngineSpec(
        max_num_seqs=max_num_seqs, num_gpu_blocks=num_gpu_blocks, block_size=block_size, max_model_len=1024,
        max_num_batched_tokens=max_num_batched_tokens,
    )  # fmt: skip
    engine = VllmEngine(env, spec, "calibrate", Path(tempfile.mkdtemp(prefix="wva-calibrate-")))
    typer.echo(f"{len(requests)} requests over {duration:.0f} s; starting the engine (log {engine.log_path})")
    profiles: list[Profile] = []
    runs: list[Comparison] = []
    fits: list[dict[str, Any]] = []
    try:
        engine.start()
        engine.wait_ready(600.0)
        for r in range(repeats):
            profile, run, fit = asyncio.run(_repeat(engine, requests, window, duration, seed=r))
            profiles.append(profile)
            runs.append(run)
            fits.append(fit)
            errs = " ".join(f"{k}={v:+.2f}" for k, v in run.errors.items())
            typer.echo(f"repeat {r + 1}/{repeats}: {errs}")
            _write(output, trace, start, duration, speed, seq, spec, engine, requests, profiles, runs, fits)
    except EngineStartError as exc:
        typer.echo(f"wva-ray: error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.stop()
    typer.echo(f"wrote {output}/results.json, README.md, plot.png")


def _write(
    output: Path,
    trace: Path,
    start: float,
    duration: float,
    speed: float,
    seq: SequenceSpec,
    spec: EngineSpec,
    engine: VllmEngine,
    requests: list[ReplayRequest],
    profiles: list[Profile],
    runs: list[Comparison],
    fits: list[dict[str, Any]],
) -> None:
    """results.json, README.md and plot.png for the repeats done so far (rewritten after each repeat)."""
    command = "wva-ray calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    output.mkdir(parents=True, exist_ok=True)
    result = {
        "command": command,
        "sequence": dataclasses.asdict(seq) | {"trace": trace.name, "requests": len(requests)},
        "engine": dataclasses.asdict(spec) | {"startup_s": engine.startup_s},
        "repeats": [
            {
                "profile": p.model_dump(),
                "fits": f,
                "errors": c.errors,
                "within_targets": c.within_targets(),
                "percentiles": {"engine": c.real_pct, "model": c.model_pct},
                "windows": {
                    "engine": [dataclasses.asdict(w) for w in c.real_windows],
                    "model": [dataclasses.asdict(w) for w in c.model_windows],
                },
            }
            for p, c, f in zip(profiles, runs, fits, strict=True)
        ],
    }
    (output / "results.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (output / "README.md").write_text(markdown(command, profiles, runs), encoding="utf-8")
    write_plot(output / "plot.png", runs[0], f"{trace.name} window {start:.0f}+{duration:.0f}s x{speed:g}, repeat 1")


def register(app: typer.Typer) -> None:
    """Add the `calibrate` sub-command to the `wva-ray` app."""
    app.command("calibrate")(calibrate)
