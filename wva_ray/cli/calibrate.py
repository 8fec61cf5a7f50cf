"""`wva-ray calibrate`: fit the replica model's profile to a REAL vLLM engine on this machine, replay one trace
window through both, and write the comparison (results.json, README.md, plot.png). Does process, file and
network I/O (through `wva_ray.testing.vllm_engine` / `vllm_calibrate`); needs the engine environment of
scripts/setup.d/40-vllm-engine.sh.

Each repeat measures the profile right before and right after its replay (fitted on both brackets together, the
drift between them recorded), replays the same sequence again, and compares the engine with every model variant
of `wva_ray.sim.calibrate.results` (the default model "before", the calibrated switches "after"), so the spread
over repeats covers both the fit and the replay on a shared, noisy machine. README.md and plot.png are generated
from results.json (`--render-only` regenerates them, e.g. after adding `--notes`).
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

from wva_ray.sim.calibrate.compare import compare
from wva_ray.sim.calibrate.fit import (
    DecodeFit,
    ItlSample,
    PrefillFit,
    PrefillSample,
    fit_decode,
    fit_prefill,
    fitted_profile,
    request_overhead_s,
)
from wva_ray.sim.calibrate.replay import ReplayRequest, SequenceSpec, scaled_sequence, simulate
from wva_ray.sim.calibrate.report import markdown, write_plot
from wva_ray.sim.calibrate.results import (
    HELDOUT,
    VARIANTS,
    comparison_record,
    drift,
    repeat_record,
    spread,
    uses_net_decode,
    variant_options,
)
from wva_ray.sim.calibrate.warmup import WARMUP_S, scaled, speed_factor, ttft_overhead
from wva_ray.sim.model.profiles import Profile
from wva_ray.sim.model.traces import load_trace
from wva_ray.testing.bench_host import load1
from wva_ray.testing.vllm_calibrate import measure_decode, measure_prefill, replay_real
from wva_ray.testing.vllm_engine import EngineEnv, EngineEnvError, EngineSpec, EngineStartError, VllmEngine

PROFILE_ID = "tiny-llama/CPU"
Bracket = tuple[list[ItlSample], list[PrefillSample]]


async def _bracket(engine: VllmEngine, seed: int, run_s: float) -> Bracket:
    return await measure_decode(engine, run_s=run_s, seed=seed), await measure_prefill(engine, seed=seed)


def _profile(engine: VllmEngine, decode: DecodeFit, prefill: PrefillFit) -> Profile:
    spec = engine.spec
    return fitted_profile(
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


async def _repeat(
    engine: VllmEngine, requests: list[ReplayRequest], window_s: float, duration_s: float, seed: int, run_s: float
) -> dict[str, Any]:
    """Bracket, replay, bracket; fit on both brackets; compare every model variant with the replay."""
    load_start = load1()
    pre = await _bracket(engine, seed, run_s)
    real = await replay_real(engine, requests, seed=seed)
    load_mid = load1()
    post = await _bracket(engine, seed + 1000, run_s)
    load_end = load1()
    prefill = fit_prefill(pre[1] + post[1])
    plain = fit_decode(pre[0] + post[0])
    net = fit_decode(pre[0] + post[0], prefill.prefill_tokens_per_s)
    overhead = request_overhead_s(net, prefill)
    profiles = {"plain": _profile(engine, plain, prefill), "net": _profile(engine, net, prefill)}
    runs = {}
    for name in VARIANTS:
        profile = profiles["net" if uses_net_decode(name) else "plain"]
        model = simulate(profile, requests, options=variant_options(name, overhead))
        runs[name] = compare(real, model, window_s, duration_s)
    fits = {
        "decode_plain": dataclasses.asdict(plain),
        "decode_net": dataclasses.asdict(net),
        "prefill": dataclasses.asdict(prefill),
        "samples": {"pre": _samples(pre), "post": _samples(post)},
    }
    brackets = ((fit_decode(pre[0]), fit_prefill(pre[1])), (fit_decode(post[0]), fit_prefill(post[1])))
    factor = speed_factor(real, requests, profiles["net"], WARMUP_S)
    warm_profile = scaled(profiles["net"], factor)
    warm_overhead = ttft_overhead(
        real, simulate(warm_profile, requests, options=variant_options("stall", 0.0)), WARMUP_S
    )
    warm = simulate(warm_profile, requests, options=variant_options("both", warm_overhead))
    heldout = {}
    for name in HELDOUT[:-1]:  # the same profiles as above, compared over the held-out part only
        profile = profiles["net" if uses_net_decode(name) else "plain"]
        model = simulate(profile, requests, options=variant_options(name, overhead))
        heldout[name] = compare(real, model, window_s, duration_s, WARMUP_S)
    heldout["both_warm"] = compare(real, warm, window_s, duration_s, WARMUP_S)
    rec = repeat_record(
        {k: p.model_dump() for k, p in profiles.items()},
        overhead,
        fits,
        drift(*brackets),
        {"start": load_start, "replay_end": load_mid, "end": load_end},
        runs,
    )
    rec["warmup"] = {"until_s": WARMUP_S, "speed_factor": factor, "request_overhead_s": warm_overhead}
    rec["engine_raw"] = {  # the replay as measured, for re-analysis without the engine
        "latencies": [[round(x.start_s, 4), round(x.ttft_s, 5), round(x.itl_s, 6), x.ok] for x in real.latencies],
        "samples": [[s.t_s, s.running, s.waiting, round(s.kv_ratio, 5), s.completed] for s in real.samples],
    }
    rec["heldout"] = {name: comparison_record(c) | {"engine_percentiles": c.real_pct} for name, c in heldout.items()}
    return rec


def _samples(bracket: Bracket) -> dict[str, Any]:
    return {"itl": [dataclasses.asdict(s) for s in bracket[0]], "prefill": [dataclasses.asdict(s) for s in bracket[1]]}


def calibrate(
    trace: Path = typer.Option(
        Path("../shared/data/traces/azure_llm_2023_conv.csv"),
        "--trace",
        help="Azure 2023 .csv or Mooncake .jsonl trace (../shared/data/traces)",
    ),
    start: float = typer.Option(600.0, "--start", min=0.0, help="trace second where the window starts"),
    duration: float = typer.Option(120.0, "--duration", min=10.0, help="replay length (wall seconds)"),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="arrival-time compression (>1: more load)"),
    prompt_scale: float = typer.Option(0.125, "--prompt-scale", min=0.0, help="token lengths scaled to the tiny model"),
    output_scale: float = typer.Option(0.25, "--output-scale", min=0.0),
    repeats: int = typer.Option(3, "--repeats", min=1, max=10),
    window: float = typer.Option(10.0, "--window", min=1.0, help="seconds per row of the side-by-side table"),
    bracket_run_s: float = typer.Option(6.0, "--bracket-run-s", min=2.0, help="seconds per closed-loop decode probe"),
    max_num_seqs: int = typer.Option(8, "--max-num-seqs", min=1),
    num_gpu_blocks: int = typer.Option(256, "--num-gpu-blocks", min=2, help="KV cache blocks of the engine"),
    block_size: int = typer.Option(32, "--block-size", min=1),
    max_num_batched_tokens: int = typer.Option(2048, "--max-num-batched-tokens", min=1),
    output: Path = typer.Option(Path("benchmarks/results/calibration"), "--output"),
    notes: Path | None = typer.Option(None, "--notes", help="markdown file added as the README's Reading section"),
    render_only: bool = typer.Option(
        False, "--render-only", help="regenerate README.md and plot.png from results.json"
    ),
) -> None:
    """Calibrate the replica model against a real vLLM engine (see the module docstring)."""
    if render_only:
        _render_only(output, notes)
        return
    try:
        env = EngineEnv.locate()
        seq = SequenceSpec(start_s=start, duration_s=duration, speed=speed, prompt_scale=prompt_scale,
                           output_scale=output_scale, max_prompt=600, max_output=256)  # fmt: skip
        requests = scaled_sequence(load_trace(trace), seq)
        note_text = notes.read_text(encoding="utf-8") if notes else ""
    except (EngineEnvError, OSError, ValueError) as exc:
        typer.echo(f"wva-ray: error: {exc}", err=True)
        raise typer.Exit(2) from exc
    spec = EngineSpec(
        max_num_seqs=max_num_seqs, num_gpu_blocks=num_gpu_blocks, block_size=block_size, max_model_len=1024,
        max_num_batched_tokens=max_num_batched_tokens,
    )  # fmt: skip
    engine = VllmEngine(env, spec, "calibrate", Path(tempfile.mkdtemp(prefix="wva-calibrate-")))
    typer.echo(f"{len(requests)} requests over {duration:.0f} s; starting the engine (log {engine.log_path})")
    command = "wva-ray calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    result: dict[str, Any] = {
        "command": command,
        "sequence": dataclasses.asdict(seq) | {"trace": trace.name, "requests": len(requests)},
        "engine": {},
        "variants": list(VARIANTS),
        "repeats": [],
        "notes": note_text,
    }
    try:
        engine.start()
        engine.wait_ready(600.0)
        result["engine"] = dataclasses.asdict(spec) | {"startup_s": engine.startup_s}
        for r in range(repeats):
            rec = asyncio.run(_repeat(engine, requests, window, duration, seed=r, run_s=bracket_run_s))
            result["repeats"].append(rec)
            for name in ("off", "both"):
                errs = " ".join(f"{k}={v:+.2f}" for k, v in rec["models"][name]["errors"].items())
                typer.echo(f"repeat {r + 1}/{repeats} {name}: {errs}")
            _write(output, result)
    except EngineStartError as exc:
        typer.echo(f"wva-ray: error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.stop()
    typer.echo(f"wrote {output}/results.json, README.md, plot.png")


def _write(output: Path, result: dict[str, Any]) -> None:
    """results.json, README.md and plot.png for the repeats done so far (rewritten after each repeat)."""
    result["spread"] = spread(result["repeats"])
    result["spread_heldout"] = spread(result["repeats"], "heldout", HELDOUT)
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (output / "README.md").write_text(markdown(result), encoding="utf-8")
    write_plot(output / "plot.png", result)


def _render_only(output: Path, notes: Path | None) -> None:
    try:
        result = json.loads((output / "results.json").read_text(encoding="utf-8"))
        if notes is not None:
            result["notes"] = notes.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        typer.echo(f"wva-ray: error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _write(output, result)
    typer.echo(f"rendered {output}/README.md, plot.png from results.json")


def register(app: typer.Typer) -> None:
    """Add the `calibrate` sub-command to the `wva-ray` app."""
    app.command("calibrate")(calibrate)
