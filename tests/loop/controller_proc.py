"""`wva-ray run` as the chart runs it, as a local subprocess (test helper; process and network I/O).

The command line and environment come from the chart's rendered controller Deployment (`helm template`):
the container's `args` after the image's `wva-ray` entrypoint (`python -m wva_ray` here), its `env` with
`fieldRef: metadata.namespace` resolved to the release namespace. What a pod would have but a local process
does not is overridden, and only that: a kubeconfig holding the chart ServiceAccount's token (in a pod: the
mounted token), free loopback ports for metrics and health (a pod has its own network namespace), the Prometheus
URL of the test, and the identity (a pod's hostname).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.kube.cluster import free_port

REPO = Path(__file__).resolve().parents[2]


def chart_command(deployment: Mapping[str, Any], namespace: str) -> tuple[list[str], dict[str, str]]:
    """(argv after the entrypoint, env) of the chart's controller container."""
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"]
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif (item.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[item["name"]] = namespace
        else:
            raise AssertionError(f"env {item['name']}: no local equivalent for {json.dumps(item)}")
    return [str(a) for a in container.get("args") or []], env


def write_token_kubeconfig(path: Path, server: str, token: str, ca_file: Path) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "sa"}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(doc))
    return path


class ControllerProcess:
    """One `python -m wva_ray <chart args>` process."""

    def __init__(
        self,
        args: list[str],
        env: Mapping[str, str],
        *,
        kubeconfig: Path,
        prometheus_url: str,
        identity: str,
        log: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.identity = identity
        self.metrics_port, self.health_port = free_port(), free_port()
        self.log = log
        self.env = {
            **os.environ,
            **env,
            "KUBECONFIG": str(kubeconfig),
            "PROMETHEUS_BASE_URL": prometheus_url,
            "WVA_METRICS_PORT": str(self.metrics_port),
            "WVA_HEALTH_PORT": str(self.health_port),
            "WVA_BIND_ADDRESS": "127.0.0.1",
            "PYTHONPATH": str(REPO),
            **(extra_env or {}),
        }
        self.argv = [sys.executable, "-m", "wva_ray", *args, "--identity", identity]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_s = time.monotonic()
        self.restarts = 0  # by the rig's supervisor (a pod's restartPolicy: Always)
        self.stopped = False  # stopped or killed on purpose: not restarted

    def start(self) -> ControllerProcess:
        self.started_s = time.monotonic()
        self.stopped = False
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def exited_unexpectedly(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None and not self.stopped

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def scrape(self) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                return str(r.read().decode())
        except (urllib.error.URLError, OSError):
            return None

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of the first sample of `name` whose labels include `labels` (None: absent/unreachable)."""
        body = self.scrape()
        if body is None:
            return None
        for line in body.splitlines():
            if not (line.startswith(name + " ") or line.startswith(name + "{")):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2) as r:
                return int(r.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def healthz(self) -> tuple[int | None, str]:
        """(/healthz status, its one-line reason); (None, error) when unreachable."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:
                return int(r.status), r.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            return None, str(exc)

    def terminate(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM to the process group (the controller and the Ray processes it started), then SIGKILL."""
        self.stopped = True
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_group()
        return self.proc.returncode

    def kill(self, restart: bool = False) -> None:
        """SIGKILL to the whole group: a crashed pod (no Lease release, no clean Ray shutdown). `restart`: the
        supervisor starts it again (a liveness restart), so it is not marked stopped."""
        self.stopped = not restart
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reap_group()

    def _reap_group(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):  # Ray's children in the group: leave nothing behind
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"
