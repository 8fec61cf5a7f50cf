"""Local Kubernetes control plane for the integration tests (test helper, does process and file I/O).

Starts etcd, kube-apiserver, kube-controller-manager (real HPA, Deployment and ReplicaSet controllers)
and kube-scheduler on free 127.0.0.1 ports from the binaries that
``scripts/setup.d/20-kube-control-plane.sh`` caches under ``~/.cache/wva-ray/kube-<version>/bin``.
Authentication is a static admin token; authorisation is RBAC; service-account keys are made with
openssl. Stopping kills the apiserver (and the controllers) before etcd: the other order hangs.

Command line (for demos and manual debugging)::

    python -m tests.kube.cluster start DIR   # starts, writes DIR/env and DIR/kubeconfig, returns
    python -m tests.kube.cluster env DIR     # prints KUBE_SERVER / KUBE_TOKEN / KUBECONFIG
    python -m tests.kube.cluster stop DIR
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("WVA_RAY_CACHE", str(Path.home() / ".cache" / "wva-ray")))
ETCD = "/usr/bin/etcd"
READY_TIMEOUT_S = 90.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (missing binaries, a process died, not ready in time)."""


def find_binaries() -> Path:
    """Directory holding kube-apiserver, kube-controller-manager and kube-scheduler: $WVA_KUBE_BIN, else the
    one the setup script recorded in <cache>/kube-current."""
    override = os.environ.get("WVA_KUBE_BIN")
    pointer = CACHE_ROOT / "kube-current"
    candidates = [Path(override)] if override else []
    if not override and pointer.is_file():
        candidates.append(Path(pointer.read_text().strip()))
    for d in candidates:
        if all((d / b).is_file() for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")):
            return d
    raise ControlPlaneError(
        f"no kube binaries (WVA_KUBE_BIN={override!r}, {pointer} -> {candidates}): "
        "run scripts/setup.d/20-kube-control-plane.sh"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ClusterInfo:
    """How to reach a running local control plane."""

    server: str
    token: str
    workdir: Path
    kubeconfig: Path

    @property
    def ca_file(self) -> Path:
        """The API server's self-generated serving certificate (with its CA): verifies TLS to 127.0.0.1."""
        return self.workdir / "certs" / "apiserver.crt"


def _write_kubeconfig(path: Path, server: str, token: str, ca_file: Path) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(doc, indent=1))


class LocalControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler as child processes."""

    def __init__(self, workdir: Path, with_controllers: bool = True, hpa_sync_period_s: float = 5.0) -> None:
        self.workdir = workdir
        self.with_controllers = with_controllers
        self.hpa_sync_period_s = hpa_sync_period_s
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._argv: dict[str, list[str]] = {}
        self.info: ClusterInfo | None = None

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._argv[name] = argv
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self._procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        (self.workdir / f"{name}.pid").write_text(str(self._procs[name].pid))

    def _check_alive(self) -> None:
        for name, p in self._procs.items():
            if p.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise ControlPlaneError(f"{name} exited with {p.returncode}:\n{tail}")

    def start(self) -> ClusterInfo:
        bins = find_binaries()
        wd = self.workdir
        wd.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        (wd / "tokens.csv").write_text(f'{token},admin,admin-uid,"system:masters"\n')
        for cmd in (
            ["openssl", "genrsa", "-out", str(wd / "sa.key"), "2048"],
            ["openssl", "rsa", "-in", str(wd / "sa.key"), "-pubout", "-out", str(wd / "sa.pub")],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
        self._spawn(
            "etcd",
            [
                ETCD,
                "--name=default",
                f"--data-dir={wd / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--log-level=warn",
            ],
        )
        server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                "--insecure-port=0",
                f"--cert-dir={wd / 'certs'}",
                f"--token-auth-file={wd / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={wd / 'sa.pub'}",
                f"--service-account-signing-key-file={wd / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--disable-admission-plugins=ServiceAccount",
                "--enable-priority-and-fairness=false",
                "--v=1",
            ],
        )
        kubeconfig = wd / "kubeconfig"
        self.info = ClusterInfo(server=server, token=token, workdir=wd, kubeconfig=kubeconfig)
        self._wait_ready(server, token)
        _write_kubeconfig(kubeconfig, server, token, self.info.ca_file)
        if self.with_controllers:
            self._spawn(
                "kube-controller-manager",
                [
                    str(bins / "kube-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    "--controllers=*,-nodelifecycle,-cloud-node-lifecycle,-nodeipam,-csrsigning",
                    f"--horizontal-pod-autoscaler-sync-period={self.hpa_sync_period_s:g}s",
                    f"--service-account-private-key-file={wd / 'sa.key'}",
                    "--leader-elect=false",
                    "--port=0",
                    f"--secure-port={free_port()}",
                    "--bind-address=127.0.0.1",
                    "--v=1",
                ],
            )
            self._spawn(
                "kube-scheduler",
                [
                    str(bins / "kube-scheduler"),
                    f"--kubeconfig={kubeconfig}",
                    "--leader-elect=false",
                    "--port=0",
                    f"--secure-port={free_port()}",
                    "--bind-address=127.0.0.1",
                    "--v=1",
                ],
            )
        (wd / "env").write_text(f"KUBE_SERVER={server}\nKUBE_TOKEN={token}\nKUBECONFIG={kubeconfig}\n")
        return self.info

    def _wait_ready(self, server: str, token: str) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_alive()
            req = urllib.request.Request(f"{server}/readyz", headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise ControlPlaneError(f"kube-apiserver at {server} not ready after {READY_TIMEOUT_S}s")

    def stop(self) -> None:
        order = ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
        for name in order:
            self._stop_one(name)

    def _stop_one(self, name: str) -> None:
        p = self._procs.pop(name, None)
        if p is None:
            return
        _stop_pid(p.pid)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _kill_group(p.pid, signal.SIGKILL)
            p.wait(timeout=5)

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver only (etcd, the controllers and the scheduler keep running and retry)."""
        self._stop_one("kube-apiserver")

    def start_apiserver(self) -> None:
        """Start kube-apiserver again with its first command line (same port, certificates and etcd data)."""
        assert self.info is not None, "start() first"
        self._spawn("kube-apiserver", self._argv["kube-apiserver"])
        self._wait_ready(self.info.server, self.info.token)

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _stop_pid(pid: int) -> None:
    _kill_group(pid, signal.SIGTERM)


def _stop_dir(workdir: Path) -> None:
    for name in ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]:
        pidfile = workdir / f"{name}.pid"
        if not pidfile.exists():
            continue
        pid = int(pidfile.read_text())
        _stop_pid(pid)
        for _ in range(150):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            _kill_group(pid, signal.SIGKILL)
        pidfile.unlink()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"start", "stop", "env"}:
        print("usage: python -m tests.kube.cluster start|stop|env DIR", file=sys.stderr)
        return 2
    verb, workdir = argv[0], Path(argv[1]).resolve()
    if verb == "start":
        LocalControlPlane(workdir).start()
        print((workdir / "env").read_text(), end="")
    elif verb == "env":
        print((workdir / "env").read_text(), end="")
    else:
        _stop_dir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
