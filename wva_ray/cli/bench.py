"""`wva-ray bench`: the typer command; the lead wires it into cli.py with `register(app)`. Thin shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wva_ray.sim.bench.suite import BenchArgs, oracle_violations, run_bench


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        quick: Annotated[bool, typer.Option("--quick", help="CI smoke run (under two minutes)")] = False,
        scenario: Annotated[
            str | None, typer.Option("--scenario", help="one scenario: a name, a prefix, or a path to a YAML file")
        ] = None,
        output: Annotated[Path, typer.Option("--output", help="output folder")] = Path("benchmarks/results/latest"),
        policy: Annotated[
            list[str] | None, typer.Option("--policy", help="restrict to these policies (family or family@k=v)")
        ] = None,
        seeds: Annotated[list[int] | None, typer.Option("--seeds", help="override every scenario's seeds")] = None,
        sweep: Annotated[bool, typer.Option("--sweep", help="add each baseline's setting sweep")] = False,
        shards: Annotated[
            int, typer.Option("--shards", help="runtime shard count of the wva-ray policies (same decisions)")
        ] = 1,
    ) -> None:
        """Run the simulator benchmark: scenarios x policies x seeds against the oracle and causal bounds.

        Exits 1 when a policy beats the oracle (a bound that is not one)."""
        args = BenchArgs(quick, scenario, output, tuple(policy or ()), tuple(seeds or ()), sweep, shards)
        try:
            path = run_bench(args)
        except ValueError as exc:  # unknown scenario or policy, invalid scenario file
            typer.echo(f"wva-ray bench: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(str(path))
        bad = oracle_violations(path)
        if bad:
            typer.echo("wva-ray bench: the oracle was beaten (it must be a lower bound):", err=True)
            for line in bad:
                typer.echo(f"  {line}", err=True)
            raise typer.Exit(1)
