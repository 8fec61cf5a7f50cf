"""`wva-ray emulate`: serve N emulated vLLM pods until SIGTERM/SIGINT. Does network I/O (via `emulator`).

Registered on the `wva-ray` app by `cli.__init__` (`register(app)`).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import typer

from wva_ray.sim.emulator.metrics import Script, parse_signal
from wva_ray.sim.emulator.server import LOOPBACK, Emulator, PodSpec
from wva_ray.sim.model.profiles import get_profile


async def serve_pods(specs: list[PodSpec], file_sd: Path | None, stop: asyncio.Event, host: str = LOOPBACK) -> None:
    """Start `specs` listening on `host`, optionally write a file_sd targets file, serve until `stop` is set,
    then clean up."""
    emu = Emulator(host)
    try:
        for spec in specs:
            pod = await emu.start_pod(spec)
            typer.echo(f"pod {spec.namespace}/{spec.name} model={spec.model} {pod.url}")
        if file_sd is not None:
            tmp = file_sd.with_suffix(file_sd.suffix + ".tmp")
            tmp.write_text(json.dumps(emu.file_sd_targets(), indent=1), encoding="utf-8")
            tmp.replace(file_sd)
        await stop.wait()
    finally:
        await emu.close()


def emulate(
    model: str = typer.Option(..., "--model", help="served model name (the `model_name` label)"),
    pods: int = typer.Option(1, "--pods", min=1, help="number of pods; pod i listens on BASE_PORT+i"),
    base_port: int = typer.Option(8000, "--base-port", min=1, max=65535),
    host: str = typer.Option(
        LOOPBACK, "--host", help="address the pods listen on (0.0.0.0 in a container; also used in --file-sd)"
    ),
    namespace: str = typer.Option("default", "--namespace", help="namespace written in --file-sd labels"),
    profile: str | None = typer.Option(
        None, "--profile", help="serving profile id (e.g. llama-3.1-8b/H100); none = scripted only"
    ),
    kv_cache_usage: str | None = typer.Option(
        None, "--kv-cache-usage", help="scripted KV usage: 0.5 or ramp|rampreset|square|oscillate:START:END:PERIOD_S"
    ),
    waiting: str | None = typer.Option(None, "--num-requests-waiting", help="scripted waiting queue (same syntax)"),
    running: str | None = typer.Option(None, "--num-requests-running", help="scripted running count (same syntax)"),
    request_rate: float = typer.Option(0.0, "--request-rate", min=0.0, help="scripted finished requests per second"),
    prompt_tokens: int = typer.Option(512, "--prompt-tokens", min=1, help="prompt length of scripted requests"),
    output_tokens: int = typer.Option(128, "--output-tokens", min=1, help="output length of scripted requests"),
    startup_delay: float = typer.Option(0.0, "--startup-delay", min=0.0, help="seconds of 503 on /health"),
    pod_prefix: str | None = typer.Option(None, "--pod-prefix", help="pod names PREFIX-i (default: the model)"),
    file_sd: Path | None = typer.Option(None, "--file-sd", help="write Prometheus file_sd targets here"),
) -> None:
    """Serve N emulated vLLM pods (vLLM metric names, OpenAI completions) until SIGTERM."""
    try:
        prof = get_profile(profile) if profile else None
        script = Script(
            kv_cache_usage=parse_signal(kv_cache_usage) if kv_cache_usage else None,
            num_requests_waiting=parse_signal(waiting) if waiting else None,
            num_requests_running=parse_signal(running) if running else None,
            request_rate_per_s=request_rate,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
        )
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if base_port + pods - 1 > 65535:
        typer.echo(f"error: --base-port {base_port} + --pods {pods} exceeds port 65535", err=True)
        raise typer.Exit(2)
    prefix = pod_prefix or model.replace("/", "-")
    specs = [
        PodSpec(
            name=f"{prefix}-{i}",
            model=model,
            namespace=namespace,
            port=base_port + i,
            profile=prof,
            script=script,
            startup_delay_s=startup_delay,
            seed=i,
        )
        for i in range(pods)
    ]

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_pods(specs, file_sd, stop, host)

    try:
        asyncio.run(main())
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add the `emulate` sub-command to the `wva-ray` app."""
    app.command("emulate")(emulate)
