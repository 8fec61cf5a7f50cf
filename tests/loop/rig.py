"""The closed loop on real parts (test helper; process, file and network I/O).

    real kube-apiserver + controller-manager (HPA, Deployment, ReplicaSet controllers) + scheduler + etcd
    fake kubelet: each Ready pod backed by an emulated vLLM engine on its own port (pod annotations)
    PodDiscovery: pod list -> Prometheus file_sd targets (kubernetes_sd with prometheus.io annotations)
    real Prometheus: scrapes every pod and the controller's gauges endpoint
    `wva-ray run` in Ray mode, command line and environment from the chart's Deployment, chart SA token
    the chart's VA, ConfigMaps, RBAC and HPA (autoscaling/v2beta2 for this 1.20 server)
    PrometheusProxy between the controller and Prometheus (pass-through unless a fault test sets it)
    ExternalMetricsAdapter (tests/kube/metrics_adapter.py): Prometheus -> external.metrics.k8s.io
    PodLoad: open-loop requests spread over the Ready pods, like clients of a Service

`LoopRig.start()` brings it all up (about 30 s); `stop()` tears it down in reverse order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.kube.cluster import ClusterInfo, LocalControlPlane
from tests.kube.fake_kubelet import FakeKubelet, FakeNode
from tests.kube.manifests import apply, deployment, load_yaml, wait_for
from tests.kube.metrics_adapter import ExternalMetricsAdapter
from tests.loop.controller_proc import ControllerProcess, chart_command, write_token_kubeconfig
from tests.packaging.tools import by_kind, render
from wva_ray.adapters.kube.client import KubeApi, KubeNotFound, token_configuration
from wva_ray.testing.pod_backend import EmulatedPodBackend
from wva_ray.testing.pod_discovery import PodDiscovery
from wva_ray.testing.pod_load import PodLoad
from wva_ray.testing.prometheus_proxy import PrometheusProxy
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "llmd.ai_variantautoscalings.yaml"
SYSTEM_NS = "wva-loop-system"
APP_NS = "loop"
VARIANT = "m1-h100"
MODEL = "m1"
MAX_REPLICAS = 6
INTERVAL = "2s"
LEASE_DURATION_S = "6"
HPA_SYNC_S = 2.0
H100 = "NVIDIA-H100-80GB-HBM3"


def chart_values(prometheus_url: str) -> dict[str, Any]:
    fast = {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 10, "periodSeconds": 2}]}
    return {
        "controller": {"interval": INTERVAL, "ray": {"authMode": "disabled"}},
        "prometheus": {"baseURL": prometheus_url},
        "variants": [
            {
                "name": VARIANT,
                "namespace": APP_NS,
                "modelID": MODEL,
                "accelerator": "H100",
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": VARIANT},
                "minReplicas": 1,
                "maxReplicas": MAX_REPLICAS,
            }
        ],
        "hpa": {"enabled": True, "behavior": {"scaleUp": fast, "scaleDown": fast}},
    }


class LoopRig:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.plane = LocalControlPlane(workdir / "kube", hpa_sync_period_s=HPA_SYNC_S)
        self.backend = EmulatedPodBackend(startup_delay_s=0.0)
        self.prometheus = LocalPrometheus(workdir / "prom", config=LocalPrometheusConfig(scrape_interval_s=1.0))
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="wvaloop-", dir="/tmp"))
        self.proxy: PrometheusProxy | None = None
        self.info: ClusterInfo | None = None
        self.api: KubeApi | None = None
        self.kubelet: FakeKubelet | None = None
        self.discovery: PodDiscovery | None = None
        self.adapter: ExternalMetricsAdapter | None = None
        self.controllers: list[ControllerProcess] = []
        self.load: PodLoad | None = None
        self.docs: list[dict[str, Any]] = []
        self.sa_kubeconfig: Path | None = None
        self.liveness_restarts: list[str] = []  # "identity: /healthz reason" of each liveness restart
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="controller-supervisor", daemon=True)

    def _supervise(self) -> None:
        """What the kubelet does for the chart's pod (counted in `restarts`): restart a controller process that
        exited on its own (restartPolicy: Always), and one whose /healthz failed the chart's livenessProbe
        `failureThreshold` times in a row, probed every `periodSeconds` once its startupProbe window has passed
        (a Ray node that died at start, say: /healthz then answers 503 with the reason)."""
        (dep,) = by_kind(self.docs, "Deployment")
        (container,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"]
        live, startup = container["livenessProbe"], container.get("startupProbe") or {}
        period_s, threshold = float(live.get("periodSeconds", 10)), int(live.get("failureThreshold", 3))
        startup_s = float(startup.get("periodSeconds", 0)) * int(startup.get("failureThreshold", 0))
        failures: dict[int, int] = {}
        next_probe = time.monotonic() + period_s
        while not self._stopping.wait(1.0):
            probe = time.monotonic() >= next_probe
            if probe:
                next_probe = time.monotonic() + period_s
            for c in list(self.controllers):
                if c.exited_unexpectedly():
                    self._restart(c, "exited")
                    failures.pop(id(c), None)
                    continue
                if not probe or not c.alive or c.stopped or time.monotonic() - c.started_s < startup_s:
                    continue
                status, reason = c.healthz()
                failures[id(c)] = 0 if status == 200 else failures.get(id(c), 0) + 1
                if failures[id(c)] >= threshold:
                    self.liveness_restarts.append(f"{c.identity}: {reason}")
                    c.kill(restart=True)
                    self._restart(c, "liveness")
                    failures.pop(id(c), None)

    def _restart(self, c: ControllerProcess, why: str) -> None:
        self.kill_ray_of(c)
        c.restarts += 1
        with contextlib.suppress(OSError):
            c.start()

    def controller_restarts(self) -> int:
        return sum(c.restarts for c in self.controllers)

    # -- bring-up -----------------------------------------------------------------------------------------
    def start(self) -> LoopRig:
        (self.workdir / "kube").mkdir(parents=True, exist_ok=True)
        self.info = self.plane.start()
        api = self.api = KubeApi(token_configuration(self.info.server, self.info.token, str(self.info.ca_file)))
        self.kubelet = FakeKubelet(api, [FakeNode("gpu-h100-0", H100, 8)], backend=self.backend).start()
        for doc in load_yaml(CRD_FILE):
            apply(api, doc)
        wait_for(self._crd_served, 60, what="llmd.ai/v1alpha1 served")
        for ns in (SYSTEM_NS, APP_NS):
            apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.prometheus.workdir.mkdir(parents=True, exist_ok=True)
        self.prometheus.start()
        self.proxy = PrometheusProxy(self.prometheus.url).start()
        self.docs = render(chart_values(self.proxy.url), kube_version="1.20.2", namespace=SYSTEM_NS)
        skip = {"Deployment", "Pod"}  # the controller runs as a local process; the helm-test Pod is not needed
        apply(api, deployment(APP_NS, VARIANT, replicas=1, product=H100, args=["--model", MODEL]))
        for doc in self.docs:
            if doc["kind"] not in skip:
                apply(api, doc)
        self.sa_kubeconfig = self._sa_kubeconfig()
        self.discovery = PodDiscovery(api, [APP_NS], self.prometheus.write_targets).start()
        self.adapter = ExternalMetricsAdapter(self.prometheus.url, self.workdir).start()
        self.adapter.register(api, SYSTEM_NS)
        wait_for(self._apiservice_available, 90, what="external.metrics.k8s.io Available")
        self.start_controller("wva-0")
        self._supervisor.start()
        self.load = PodLoad(lambda: [e.url for e in self.discovery_endpoints()], MODEL).start()
        return self

    def discovery_endpoints(self) -> list[Any]:
        return self.discovery.ready_endpoints(APP_NS) if self.discovery else []

    def _crd_served(self) -> bool:
        assert self.api is not None
        try:
            self.api.get("/apis/llmd.ai/v1alpha1")
            return True
        except KubeNotFound:
            return False

    def _apiservice_available(self) -> bool:
        assert self.api is not None
        svc = self.api.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io")
        conds = (svc.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Available" and c["status"] == "True" for c in conds)

    def _sa_kubeconfig(self) -> Path:
        """A kubeconfig with a token of the chart's ServiceAccount (what the pod would have mounted)."""
        assert self.api is not None and self.info is not None
        (sa,) = by_kind(self.docs, "ServiceAccount")
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 7200}}
        name = sa["metadata"]["name"]
        doc = self.api.post(f"/api/v1/namespaces/{SYSTEM_NS}/serviceaccounts/{name}/token", body)
        path = self.workdir / "sa-kubeconfig"
        return write_token_kubeconfig(path, self.info.server, str(doc["status"]["token"]), self.info.ca_file)

    def start_controller(self, identity: str, prometheus_url: str | None = None) -> ControllerProcess:
        assert self.sa_kubeconfig is not None
        (dep,) = by_kind(self.docs, "Deployment")
        args, env = chart_command(dep, SYSTEM_NS)
        proc = ControllerProcess(
            args,
            env,
            kubeconfig=self.sa_kubeconfig,
            prometheus_url=prometheus_url or (self.proxy.url if self.proxy else self.prometheus.url),
            identity=identity,
            log=self.workdir / f"controller-{identity}.log",
            extra_env={
                "WVA_LEASE_DURATION_S": LEASE_DURATION_S,
                "RAY_TMPDIR": str(self.ray_tmp / identity),
                # a loaded 2-core CI machine: Ray's default 10 s for the raylet to register is not enough
                "RAY_raylet_start_wait_time_s": "120",
            },
        )
        (self.ray_tmp / identity).mkdir(exist_ok=True)
        proc.env.pop("RAY_ADDRESS", None)  # always its own embedded Ray, as in the chart's pod
        self.controllers.append(proc.start())
        self._publish_controller_targets()
        return proc

    def _publish_controller_targets(self) -> None:
        """The controllers' gauges endpoints as static targets (namespace label = the controller's, as the
        chart's ServiceMonitor sets it, so the VA namespace is stored as `exported_namespace`)."""
        assert self.discovery is not None
        groups = [
            {"targets": [f"127.0.0.1:{c.metrics_port}"], "labels": {"namespace": SYSTEM_NS, "job": "wva-ray"}}
            for c in self.controllers
            if c.alive
        ]
        self.discovery.set_static(groups)

    def stop_prometheus(self) -> None:
        self.prometheus.stop()

    def start_prometheus(self) -> None:
        """Start Prometheus again on the same port with the same data directory (and targets file)."""
        port, workdir, config = self.prometheus.port, self.prometheus.workdir, self.prometheus.config
        self.prometheus = LocalPrometheus(workdir, port=port, config=config)
        self.prometheus.start()

    def ray_pids(self, proc: ControllerProcess) -> list[int]:
        """Processes of the Ray cluster that `proc` started (found by its RAY_TMPDIR in their environment)."""
        marker = f"RAY_TMPDIR={proc.env['RAY_TMPDIR']}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == (proc.proc.pid if proc.proc else -1):
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def ray_actor_pids(self, proc: ControllerProcess, actor_class: str) -> list[int]:
        """Worker processes of `proc`'s Ray cluster hosting an actor of `actor_class` (its process title)."""
        out = []
        for pid in self.ray_pids(proc):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith(f"ray::{actor_class}"):
                out.append(pid)
        return sorted(out)

    def kill_ray_of(self, proc: ControllerProcess) -> None:
        """SIGKILL whatever is left of `proc`'s Ray cluster (a pod's processes all die with it)."""
        for pid in self.ray_pids(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def forget_dead_controllers(self) -> None:
        self.controllers = [c for c in self.controllers if c.alive]
        self._publish_controller_targets()

    def leader(self) -> ControllerProcess | None:
        leaders = [c for c in self.controllers if c.alive and c.metric("wva_is_leader") == 1.0]
        return leaders[0] if len(leaders) == 1 else None

    # -- reads ------------------------------------------------------------------------------------------------
    def deployment_path(self, name: str = VARIANT) -> str:
        return f"/apis/apps/v1/namespaces/{APP_NS}/deployments/{name}"

    def hpa_path(self) -> str:
        return f"/apis/autoscaling/v2beta2/namespaces/{APP_NS}/horizontalpodautoscalers/{VARIANT}"

    def va_path(self) -> str:
        return f"/apis/llmd.ai/v1alpha1/namespaces/{APP_NS}/variantautoscalings/{VARIANT}"

    def logs(self) -> str:
        out = [f"--- {c.identity}\n{c.log_tail()}" for c in self.controllers]
        out.append(f"--- prometheus\n{self.prometheus.log_tail()}")
        return "\n".join(out)

    def log_lines(self, *needles: str, limit: int = 40) -> str:
        """The last ``limit`` lines of each controller's log that contain any of ``needles`` (for a failure message)."""
        out = []
        for c in self.controllers:
            try:
                lines = c.log.read_text(errors="replace").splitlines()
            except OSError:
                lines = []
            hits = [line for line in lines if any(n in line for n in needles)]
            out.append(f"--- {c.identity}: {len(hits)} lines with {needles}\n" + "\n".join(hits[-limit:]))
        return "\n".join(out)

    # -- tear-down ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()
        if self.load is not None:
            self.load.stop()
        for c in self.controllers:
            with contextlib.suppress(Exception):
                c.terminate(timeout_s=30)
            self.kill_ray_of(c)
        if self.adapter is not None:
            self.adapter.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self.discovery is not None:
            self.discovery.stop()
        self.prometheus.stop()
        if self.kubelet is not None:
            self.kubelet.stop(check=False)
        self.backend.close()
        self.plane.stop()
        time.sleep(0.1)
        shutil.rmtree(self.ray_tmp, ignore_errors=True)
