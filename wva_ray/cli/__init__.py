"""The `wva-ray` command line (typer). Thin: parsing, I/O and printing; the decisions come from wva_ray.core."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wva_ray import __version__
from wva_ray.adapters.snapshot_file import SnapshotError, load_snapshot
from wva_ray.api.crd import crd_yaml
from wva_ray.api.plan import Plan
from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide
from wva_ray.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="wva-ray",
    help=(
        "wva-ray: a Ray-native Workload Variant Autoscaler for vLLM inference servers, compatible with "
        "llm-d WVA (llmd.ai/v1alpha1 VariantAutoscaling)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


def _fail(message: str) -> None:
    """One line on stderr, exit status 2 (bad input)."""
    typer.echo(f"wva-ray: error: {message}", err=True)
    raise typer.Exit(code=2)


def _print_table(plan: Plan) -> None:
    console = Console(width=160)
    table = Table(title="wva-ray plan", show_lines=False)
    for col in ("variant", "model", "accel", "current", "desired", "action", "reason"):
        table.add_column(col, overflow="fold")
    for d in plan.decisions:
        table.add_row(
            d.key,
            d.model_id,
            d.accelerator or "-",
            str(d.current_replicas),
            str(d.desired_replicas),
            d.action.value,
            d.reason,
        )
    console.print(table)
    for d in plan.decisions:
        console.print(f"[bold]{d.key}[/bold]")
        for step in d.steps:
            console.print(f"  - {step}", markup=False)
        for c in d.conditions:
            console.print(f"  {c.type}={c.status.value} ({c.reason}) {c.message}", markup=False)
    for w in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


def plan_settings(kubeconfig: str | None, prometheus_url: str | None, config: Path | None) -> Settings:
    """The settings of `plan --from-cluster`: the same tree (environment, file, flags) as `wva-ray run`."""
    return load_settings({"kubeconfig": kubeconfig, "prometheus_base_url": prometheus_url}, config)


async def _live_snapshot(settings: Settings) -> Snapshot:
    """The cluster as `wva-ray run` would observe it: the kube section for the reader, the prometheus section
    for the metrics (none configured: no metrics, every variant holds)."""
    from wva_ray.adapters.kube.live_snapshot import snapshot_from_cluster
    from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource

    metrics = PrometheusMetricsSource(settings.prometheus) if settings.prometheus.base_url else None
    try:
        return await snapshot_from_cluster(datetime.now(UTC), settings.kube, metrics=metrics)
    finally:
        if metrics is not None:
            metrics.close()


@app.command()
def plan(
    snapshot: Annotated[
        Path | None,
        typer.Argument(
            help="Snapshot JSON file (../shared/spec/snapshot-format.md); an acceptance-case file with a "
            "'snapshot' key is accepted too.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="json (one document on stdout) or table (for a person).")
    ] = OutputFormat.json,
    from_cluster: Annotated[
        bool,
        typer.Option(
            "--from-cluster",
            help="Build the snapshot from the live cluster (kubeconfig or in-cluster) and Prometheus; writes nothing.",
        ),
    ] = False,
    kubeconfig: Annotated[
        str | None, typer.Option(help="With --from-cluster: kubeconfig file (default $KUBECONFIG, then in-cluster).")
    ] = None,
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            help="With --from-cluster: Prometheus to read vLLM metrics from (default PROMETHEUS_BASE_URL; TLS and "
            "token settings: PROMETHEUS_* environment variables as in upstream WVA). Without one the plan has no "
            "metrics and every variant holds.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="With --from-cluster: YAML settings file, as `wva-ray run --config` (lowest precedence)."),
    ] = None,
) -> None:
    """Run the pure decision pipeline on one recorded cluster state and print what the autoscaler would do, and why.

    Nothing is contacted (unless --from-cluster) and nothing is written. Exit status 0 on success, 2 on an
    unreadable or invalid snapshot (with one line naming the file, the key path and the expectation).
    """
    if from_cluster:
        if snapshot is not None:
            _fail("give either SNAPSHOT or --from-cluster, not both")
        try:
            settings = plan_settings(kubeconfig, prometheus_url, config)
        except SettingsError as err:
            _fail(f"invalid settings: {err}")
            return
        try:
            snap = asyncio.run(_live_snapshot(settings))
        except Exception as err:  # any failure to reach the cluster: one line, exit 2, no traceback
            _fail(f"--from-cluster: {type(err).__name__}: {err}")
            return
    else:
        if snapshot is None:
            _fail("missing SNAPSHOT (a snapshot JSON file), or use --from-cluster")
            return
        try:
            snap = load_snapshot(snapshot)
        except SnapshotError as err:
            _fail(str(err))
            return
    result = decide(snap)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(result.model_dump(mode="json", by_alias=True), indent=2) + "\n")
    else:
        _print_table(result)


@app.command()
def crd() -> None:
    """Print the VariantAutoscaling CRD (the YAML in crds/), rendered from the API models."""
    sys.stdout.write(crd_yaml())


@app.command()
def version() -> None:
    """Print the wva-ray version."""
    typer.echo(f"wva-ray {__version__}")


def _register_subcommands() -> None:
    """One module per command family: `cli.demo`, `cli.run`, `cli.emulate`, `cli.loadgen`, `cli.bench`,
    `cli.calibrate`."""
    from wva_ray.cli import bench, calibrate, demo, emulate, loadgen, run

    for module in (demo, run, emulate, loadgen, bench, calibrate):
        module.register(app)


_register_subcommands()


def main() -> None:  # pragma: no cover - console-script entry
    app()
