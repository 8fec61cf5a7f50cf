"""Run Debian's `prometheus` binary as a plain local process (tests, benchmarks, the embedded demo): writes its
config and a `file_sd_configs` targets file, starts it on a loopback port, polls readiness, stops it. Does
process, file and network I/O (blocking; call from threads or synchronous code).

Targets come and go by rewriting the targets file (`write_targets`, atomic rename); Prometheus applies target
changes at most every 5 s, so poll for data rather than sleeping.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LocalPrometheusConfig:
    scrape_interval_s: float = 1.0
    scrape_timeout_s: float = 1.0
    sd_refresh_s: float = 1.0
    job_name: str = "vllm"
    web_config_file: Path | None = None  # Prometheus' own --web.config.file (TLS, basic auth)
    binary: str = "prometheus"


class LocalPrometheus:
    """One Prometheus process with its own data dir under `workdir`. Without a fixed `port` the port is picked
    when `start()` runs, so read `port`/`url` after `start()`."""

    def __init__(self, workdir: Path, port: int = 0, config: LocalPrometheusConfig | None = None) -> None:
        self.workdir = workdir
        self.config = config or LocalPrometheusConfig()
        self._fixed_port = port != 0
        self.port = port or free_port()
        self.sd_file = workdir / "targets.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        scheme = "https" if self.config.web_config_file and _has_tls(self.config.web_config_file) else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def write_targets(self, targets: Sequence[dict[str, Any]]) -> None:
        """Replace the file_sd targets (atomically)."""
        tmp = self.sd_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(targets)), encoding="utf-8")
        tmp.replace(self.sd_file)

    def _write_config(self) -> Path:
        c = self.config
        cfg = {
            "global": {
                "scrape_interval": f"{c.scrape_interval_s:g}s",
                "scrape_timeout": f"{min(c.scrape_timeout_s, c.scrape_interval_s):g}s",
                "evaluation_interval": "15s",
            },
            "scrape_configs": [
                {
                    "job_name": c.job_name,
                    "file_sd_configs": [{"files": [str(self.sd_file)], "refresh_interval": f"{c.sd_refresh_s:g}s"}],
                }
            ],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        return path

    def start(self, ready_timeout_s: float = 30.0, attempts: int = 3) -> None:
        """Start the process and wait until `/-/ready` answers; raises RuntimeError with the log tail. Without a
        fixed port, a port taken in the meantime is replaced by a fresh one (up to `attempts` times)."""
        for attempt in range(attempts):
            if not self._fixed_port:
                self.port = free_port()  # picked late: other processes may have bound ports since __init__
            try:
                self._start_once(ready_timeout_s)
                return
            except RuntimeError as exc:
                if self._fixed_port or "address already in use" not in str(exc) or attempt == attempts - 1:
                    raise

    def _start_once(self, ready_timeout_s: float) -> None:
        binary = shutil.which(self.config.binary)
        if binary is None:
            raise RuntimeError(f"{self.config.binary!r} not found: run scripts/setup.d/10-prometheus.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.sd_file.exists():
            self.write_targets([])
        args = [
            binary,
            f"--config.file={self._write_config()}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        if self.config.web_config_file is not None:
            args.append(f"--web.config.file={self.config.web_config_file}")
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self._proc.returncode}: {self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {ready_timeout_s}s: {self.log_tail()}")

    def _ready(self) -> bool:
        if self.url.startswith("https"):
            # Readiness of a TLS-protected server: the port accepts connections.
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate (then kill) the process; safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        self._proc = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _has_tls(web_config: Path) -> bool:
    try:
        data = yaml.safe_load(web_config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "tls_server_config" in data
