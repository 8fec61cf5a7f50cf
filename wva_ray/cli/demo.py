"""`wva-ray demo` command-line entry (typer). Thin: parses flags and calls `demo.runner.run_demo`. I/O: terminal."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wva_ray.demo.runner import DEFAULT_TRACE, DemoOptions, run_demo


def demo(
    duration: float = typer.Option(100.0, "--duration", min=5.0, help="Wall seconds of load replay."),
    output: Path = typer.Option(Path("demo-output"), "--output", help="Folder for summary.json and demo.png."),
    trace: str = typer.Option(DEFAULT_TRACE, "--trace", help="Trace name in ../shared/data/traces, or a file."),
    speed: float = typer.Option(12.0, "--speed", min=1.0, help="Time compression: trace seconds per wall second."),
    shards: int = typer.Option(2, "--shards", min=1, max=16, help="Shard actors."),
    no_ray: bool = typer.Option(False, "--no-ray", help="Run coordinator and shards in one process, no Ray."),
    no_live: bool = typer.Option(False, "--no-live", help="No live table (for logs and CI)."),
    dashboard: bool = typer.Option(
        False, "--dashboard", help="Start the Ray dashboard (see the actors with `ray list actors`)."
    ),
) -> None:
    """Run the autoscaler on emulated vLLM servers with a replayed trace; no cluster needed."""
    console = Console()
    try:
        run_demo(
            DemoOptions(
                duration_s=duration,
                output=output,
                trace=trace,
                speed=speed,
                use_ray=not no_ray,
                shards=shards,
                live=not no_live,
                dashboard=dashboard,
            ),
            console,
        )
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    """Add `wva-ray demo` to the CLI."""
    app.command("demo")(demo)
