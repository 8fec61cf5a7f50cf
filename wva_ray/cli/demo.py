"""`wva-ray demo` command-line entry (typer). Thin: parses flags and calls `demo.runner.run_demo` (emulated
engines, the default) or `demo.vllm_demo.run_vllm_demo` (`--engine vllm`). I/O: terminal."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wva_ray.demo.runner import DEFAULT_TRACE, DemoOptions, run_demo
from wva_ray.demo.runs import ANALYZER_CHOICES, DEFAULT_ANALYZER, V1_ALIAS, analyzer_name

ENGINES = ("emulator", "vllm")


def demo(
    duration: float = typer.Option(
        100.0, "--duration", min=5.0, help="Wall seconds of load replay (--engine vllm: of the load phase)."
    ),
    output: Path = typer.Option(Path("demo-output"), "--output", help="Folder for summary.json and demo.png."),
    trace: str | None = typer.Option(
        None,
        "--trace",
        help=f"Trace name in ../shared/data/traces, or a file (default {DEFAULT_TRACE}; --engine vllm: "
        "azure_llm_2023_conv).",
    ),
    speed: float | None = typer.Option(
        None, "--speed", min=1.0, help="Time compression: trace seconds per wall second (default 12; --engine vllm: 2)."
    ),
    shards: int = typer.Option(2, "--shards", min=1, max=16, help="Shard actors."),
    no_ray: bool = typer.Option(False, "--no-ray", help="Run coordinator and shards in one process, no Ray."),
    no_live: bool = typer.Option(False, "--no-live", help="No live table (for logs and CI)."),
    dashboard: bool = typer.Option(
        False, "--dashboard", help="Start the Ray dashboard (see the actors with `ray list actors`)."
    ),
    engine: str = typer.Option(
        "emulator",
        "--engine",
        help="emulator: emulated vLLM servers (2 models, 5 variants, Ray). vllm: REAL vLLM engines of "
        "scripts/setup.d/40-vllm-engine.sh - one tiny model, one variant of 1-2 engines (2 cores), no Ray; phases: "
        "first engine start (40-150 s), --duration s of load (a second engine starts on the scale-up), then up to "
        "--cooldown s for the scale-down. About 5-7 minutes here.",
    ),
    cooldown: float = typer.Option(150.0, "--cooldown", min=0.0, help="--engine vllm: longest wait for scale-down."),
    compare: bool = typer.Option(
        True,
        "--compare/--no-compare",
        help="Emulator: replay the same requests (same trace segment, same seed) under upstream WVA v0.9's stock "
        "rule (its shipped ConfigMap lists the `saturation` analyzer, V2) and under --analyzer, side by side, each "
        "in its own embedded cluster with its own controller; the summary, the table and the plot show both. "
        "--no-compare runs --analyzer alone.",
    ),
    analyzer: str = typer.Option(
        DEFAULT_ANALYZER,
        "--analyzer",
        help=f"Emulator: the analyzer of wva-ray's run ({', '.join(ANALYZER_CHOICES)}; default {DEFAULT_ANALYZER}, "
        f"what a fresh install runs; {V1_ALIAS} = upstream's code default). With --analyzer saturation the "
        "comparison would be upstream's rule against itself, so it runs once.",
    ),
) -> None:
    """Run the autoscaler on emulated (default) or real vLLM servers with a replayed trace; no cluster needed.

    With the emulator the same requests are replayed under upstream's rule and wva-ray's default side by side;
    demo-output/summary.json and demo.png show SLO attainment, GPU-hours, demand and replicas for both."""
    console = Console()
    if engine not in ENGINES:
        console.print(f"[red]error:[/red] --engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        raise typer.Exit(2)
    try:
        analyzer_config_name = analyzer_name(analyzer)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --analyzer: {exc}")
        raise typer.Exit(2) from exc
    if engine == "vllm":
        _vllm(duration, output, trace, speed, cooldown, not no_live, console)
        return
    try:
        run_demo(
            DemoOptions(
                duration_s=duration,
                output=output,
                trace=trace or DEFAULT_TRACE,
                speed=speed or 12.0,
                use_ray=not no_ray,
                shards=shards,
                live=not no_live,
                dashboard=dashboard,
                analyzer=analyzer_config_name,
                compare=compare,
            ),
            console,
        )
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _vllm(
    duration: float, output: Path, trace: str | None, speed: float | None, cooldown: float, live: bool, console: Console
) -> None:
    from wva_ray.demo.vllm_demo import VllmDemoOptions, run_vllm_demo
    from wva_ray.testing.vllm_engine import EngineEnvError, EngineStartError

    defaults = VllmDemoOptions()
    options = VllmDemoOptions(
        duration_s=duration,
        output=output,
        trace=trace or defaults.trace,
        speed=speed or defaults.speed,
        cooldown_s=cooldown,
        live=live,
    )
    try:
        run_vllm_demo(options, console)
    except (EngineEnvError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except EngineStartError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("interrupted: every engine was stopped")
        raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    """Add `wva-ray demo` to the CLI."""
    app.command("demo")(demo)
