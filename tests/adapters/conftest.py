"""Fixtures of the adapters tests that need real components: Debian's Prometheus (started on a free loopback
port, scraping emulated vLLM pods through file_sd_configs) and the emulator running in a background thread.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from wva_ray.sim.emulator.server import EmulatedPod, PodSpec
from wva_ray.sim.emulator.thread import EmulatorThread
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def ensure_prometheus() -> None:
    """Install Debian's prometheus through the project's setup script when it is missing."""
    if shutil.which("prometheus") is None:
        subprocess.run(["bash", str(REPO_ROOT / "scripts/setup.d/10-prometheus.sh")], check=True, timeout=600)


def poll(fn: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.25, what: str = "") -> T:
    """Call `fn` until it returns something other than None (or a falsy value); fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what or fn}; last value {last!r}")


class MetricsLab:
    """Emulated pods scraped by one real Prometheus; keeps the targets file in step with the live pods."""

    def __init__(self, prometheus: LocalPrometheus, emulator: EmulatorThread) -> None:
        self.prometheus = prometheus
        self.emulator = emulator

    def start_pods(self, specs: list[PodSpec]) -> list[EmulatedPod]:
        pods = [self.emulator.start_pod(s) for s in specs]
        self.sync_targets()
        return pods

    def stop_pod(self, name: str, keep_target: bool = True) -> None:
        """Stop a pod; with keep_target its scrapes fail (like a crashed pod), else it leaves discovery."""
        self.emulator.stop_pod(name)
        if not keep_target:
            self.sync_targets()

    def sync_targets(self) -> None:
        self.prometheus.write_targets(self.emulator.file_sd_targets())


@pytest.fixture(scope="session")
def emulator_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


@pytest.fixture(scope="session")
def local_prometheus() -> Iterator[LocalPrometheus]:
    ensure_prometheus()
    workdir = Path(tempfile.mkdtemp(prefix="wva-prom-"))
    prom = LocalPrometheus(workdir, config=LocalPrometheusConfig(scrape_interval_s=1.0, scrape_timeout_s=1.0))
    prom.start()
    try:
        yield prom
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def metrics_lab(local_prometheus: LocalPrometheus, emulator_thread: EmulatorThread) -> MetricsLab:
    return MetricsLab(local_prometheus, emulator_thread)
