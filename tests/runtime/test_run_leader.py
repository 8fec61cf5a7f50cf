"""Two `wva-ray run` processes against one real API server: exactly one writes (the Lease holder); when it
is stopped with SIGTERM it exits cleanly and the other takes over. Marker `integration`.

Both run `--no-ray` (leader election does not depend on the Ray mode) with a Prometheus URL that refuses
connections, so every decision is held and written with `MetricsAvailable=False` - enough to see who writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.kube.cluster import ClusterInfo, free_port
from tests.kube.conftest import SYSTEM_NS
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import KubeApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]


class RunProcess:
    def __init__(self, identity: str, kubeconfig: Path, namespace: str, lease: str, log: Path) -> None:
        self.identity = identity
        self.metrics_port, self.health_port = free_port(), free_port()
        env = {
            **os.environ,
            "POD_NAMESPACE": SYSTEM_NS,
            "WATCH_NAMESPACE": namespace,
            "WVA_LEASE_NAME": lease,
            "WVA_LEASE_DURATION_S": "4",
            "PROMETHEUS_RETRIES": "0",
        }
        argv = [
            sys.executable,
            "-m",
            "wva_ray.cli.run",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--prometheus-url",
            f"http://127.0.0.1:{free_port()}",
            "--no-ray",
            "--interval",
            "1s",
            "--metrics-port",
            str(self.metrics_port),
            "--health-port",
            str(self.health_port),
            "--bind-address",
            "127.0.0.1",
            "--identity",
            identity,
        ]
        self.log = log
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def metric(self, name: str) -> float | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                body = r.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[RunProcess]]:
    made: list[RunProcess] = []
    yield made
    for r in made:
        r.kill()


def _leader(a: RunProcess, b: RunProcess) -> Callable[[], RunProcess | None]:
    def which() -> RunProcess | None:
        flags = [(r, r.metric("wva_is_leader")) for r in (a, b)]
        leaders = [r for r, v in flags if v == 1.0]
        return leaders[0] if len(leaders) == 1 and all(v is not None for _, v in flags) else None

    return which


def test_two_run_instances_one_writer_and_takeover_on_sigterm(
    kube_cluster: ClusterInfo,
    admin_api: KubeApi,
    fake_kubelet: object,
    va_crd: Path,
    system_namespace: str,
    namespace: str,
    runs: list[RunProcess],
    tmp_path: Path,
) -> None:
    apply(admin_api, deployment(namespace, "m1-h100", replicas=1, product="NVIDIA-H100-80GB-HBM3"))
    apply(admin_api, variant_autoscaling(namespace, "m1-h100", "m1-h100"))
    lease = f"wva-ray-{namespace}"
    a = RunProcess("run-a", kube_cluster.kubeconfig, namespace, lease, tmp_path / "a.log")
    runs.append(a)
    b = RunProcess("run-b", kube_cluster.kubeconfig, namespace, lease, tmp_path / "b.log")
    runs.append(b)
    leader = wait_for(_leader(a, b), 60, what="exactly one leader")
    standby = b if leader is a else a
    holder = admin_api.get(f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NS}/leases/{lease}")
    assert holder["spec"]["holderIdentity"] == leader.identity
    wait_for(lambda: (leader.metric("wva_publishes_total") or 0) >= 3, 30, what="leader publishing")
    va_path = f"/apis/llmd.ai/v1alpha1/namespaces/{namespace}/variantautoscalings/m1-h100"
    status = admin_api.get(va_path).get("status") or {}
    assert status["desiredOptimizedAlloc"]["numReplicas"] == 1
    assert (standby.metric("wva_publishes_total") or 0) == 0, "the standby wrote"
    assert leader.status("/readyz") == 200 and standby.status("/readyz") == 200
    assert leader.status("/healthz") == 200
    # SIGTERM: clean exit, and the standby takes over (the Lease is released at once)
    assert leader.stop() == 0, leader.log.read_text()[-2000:]
    wait_for(lambda: standby.metric("wva_is_leader") == 1.0, 20, what="standby to take over")
    before = standby.metric("wva_publishes_total") or 0
    wait_for(lambda: (standby.metric("wva_publishes_total") or 0) > before, 20, what="new leader publishing")
    holder = admin_api.get(f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NS}/leases/{lease}")
    assert holder["spec"]["holderIdentity"] == standby.identity
    assert standby.stop() == 0
