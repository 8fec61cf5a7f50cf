"""`wva-ray emulate --host`: the pods listen on the given address (0.0.0.0 in a container, reachable on the pod
IP) or, by default, on 127.0.0.1 only. Uses real sockets on the loopback interface: 127.0.0.2 is a loopback
address that a socket bound to 127.0.0.1 does not accept, but one bound to 0.0.0.0 does."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

import pytest
import typer
from typer.testing import CliRunner

from wva_ray.cli.emulate import register, serve_pods
from wva_ray.sim.emulator.server import PodSpec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except (urllib.error.URLError, OSError):
        return 0


@pytest.mark.parametrize(
    ("host", "reachable_on_other_address"),
    [pytest.param("0.0.0.0", True, id="all-addresses"), pytest.param("127.0.0.1", False, id="loopback-only")],
)
def test_pods_listen_on_the_given_host(host: str, reachable_on_other_address: bool) -> None:
    port = _free_port()
    spec = PodSpec(name="p-0", model="m", namespace="ns", port=port)

    async def scenario() -> tuple[int, int]:
        stop = asyncio.Event()
        task = asyncio.create_task(serve_pods([spec], None, stop, host))
        for _ in range(100):
            if await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics"):
                break
            await asyncio.sleep(0.05)
        local = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        other = await asyncio.to_thread(_get, f"http://127.0.0.2:{port}/metrics")
        stop.set()
        await task
        return local, other

    local, other = asyncio.run(scenario())
    assert local == 200
    assert (other == 200) is reachable_on_other_address, f"host {host}: GET via 127.0.0.2 -> {other}"


def test_cli_offers_host_defaulting_to_loopback() -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """root"""

    result = CliRunner().invoke(app, ["emulate", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "127.0.0.1" in result.output
