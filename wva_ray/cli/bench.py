"""`wva-ray bench`: the typer command; the lead wires it into cli.py with `register(app)`. Thin shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wva_ray.sim.bench.runner import run_bench


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        quick: Annotated[bool, typer.Option("--quick", help="CI smoke run (under 5 minutes)")] = False,
        scenario: Annotated[str | None, typer.Option("--scenario", help="one scenario (name or prefix)")] = None,
        output: Annotated[Path, typer.Option("--output", help="output folder")] = Path("benchmarks/results/latest"),
        policy: Annotated[list[str] | None, typer.Option("--policy", help="restrict to these policies")] = None,
    ) -> None:
        """Run the simulator benchmark: scenarios x policies x seeds, oracle, results.json + markdown + plots."""
        try:
            path = run_bench(quick, scenario, output, policies=policy or None)
        except ValueError as exc:  # unknown scenario or policy, invalid scenario file
            typer.echo(f"wva-ray bench: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(str(path))
