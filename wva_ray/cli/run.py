"""`wva-ray run`: the controller against a real cluster (kubeconfig or in-cluster credentials). Thin typer
layer: flags -> `wva_ray.settings.Settings` (flags > environment > `--config` file) -> `controller.Controller`. Does I/O
(signals, the terminal).

SIGTERM and SIGINT stop the controller cleanly: the cycle in progress finishes its publish (never a
half-written status), the Lease is released, the servers close.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import typer

from wva_ray.runtime.controller import Controller
from wva_ray.settings import Settings, SettingsError, load_settings


async def serve(settings: Settings, identity: str | None = None) -> None:
    """Run the controller until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Controller(settings, identity).run(stop)


def run(
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, in-cluster)."
    ),
    prometheus_url: str | None = typer.Option(None, "--prometheus-url", help="PROMETHEUS_BASE_URL."),
    direct_scrape: bool | None = typer.Option(
        None, "--direct-scrape/--prometheus", help="Scrape the pods' /metrics instead of querying Prometheus."
    ),
    actuation: str | None = typer.Option(None, "--actuation", help="hpa (default) | direct | serve."),
    interval: str | None = typer.Option(None, "--interval", help="Cycle interval, e.g. 30s (GLOBAL_OPT_INTERVAL)."),
    shards: int | None = typer.Option(None, "--shards", help="Shard actors (WVA_SHARDS)."),
    no_ray: bool = typer.Option(False, "--no-ray", help="One asyncio process instead of Ray actors."),
    config: Path | None = typer.Option(None, "--config", help="YAML settings file (lowest precedence)."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Gauges port (WVA_METRICS_PORT)."),
    health_port: int | None = typer.Option(None, "--health-port", help="/healthz and /readyz port."),
    bind_address: str | None = typer.Option(None, "--bind-address", help="Address of both servers."),
    leader_election: bool | None = typer.Option(
        None, "--leader-election/--no-leader-election", help="Elect one writer with a Lease (default on)."
    ),
    identity: str | None = typer.Option(None, "--identity", help="Lease holder identity (default host-pid)."),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Run the autoscaler against a Kubernetes cluster."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    flags: dict[str, Any] = {
        "kubeconfig": kubeconfig,
        "prometheus_base_url": prometheus_url,
        "direct_scrape": direct_scrape,
        "actuation": actuation,
        "interval_s": interval,
        "shards": shards,
        "use_ray": False if no_ray else None,
        "metrics_port": metrics_port,
        "health_port": health_port,
        "bind_address": bind_address,
        "leader_election": leader_election,
    }
    try:
        settings = load_settings(flags, config)
    except SettingsError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    asyncio.run(serve(settings, identity))


def register(app: typer.Typer) -> None:
    """Add `wva-ray run` to the CLI."""
    app.command("run")(run)


def main() -> None:
    """`python -m wva_ray.cli.run run ...` (used by tests until the lead wires `wva-ray run`)."""
    app = typer.Typer(add_completion=False)
    register(app)

    @app.callback()
    def _root() -> None:
        """wva-ray controller."""

    app()


if __name__ == "__main__":
    main()
