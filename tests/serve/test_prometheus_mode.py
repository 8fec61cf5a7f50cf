"""Mode `prometheus` against a real Prometheus (Debian's binary on a loopback port) scraping an exporter that
serves the series Ray exports for a Serve LLM deployment: `ray_vllm_*` labelled by WorkerId, and the Serve request
counter that maps WorkerId to (application, deployment, replica). The policy's background thread queries it; the
tick only reads what the thread fetched."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.conftest import REPO_ROOT
from tests.serve.contexts import make_ctx
from tests.serve.harness import wait_until
from wva_ray.serve.policy import WvaSaturationPolicy
from wva_ray.serve.state import Reason
from wva_ray.testing.prometheus_server import LocalPrometheus, LocalPrometheusConfig, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

APP, DEPLOYMENT = "chat", "LLMServer"
# WorkerId -> (application, deployment, replica); w9 belongs to another deployment and must not count
WORKERS = {"w1": (APP, DEPLOYMENT, "r1"), "w2": (APP, DEPLOYMENT, "r2"), "w9": (APP, "Other", "r9")}


class RayMetricsExporter:
    """The series a Ray node's metrics port serves for a Serve LLM deployment, on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.kv = Gauge("ray_vllm_kv_cache_usage_perc", "kv", ["WorkerId", "model_name"], registry=self.registry)
        self.waiting = Gauge("ray_vllm_num_requests_waiting", "q", ["WorkerId", "model_name"], registry=self.registry)
        requests = Counter(
            "ray_serve_deployment_request_counter",
            "requests",
            ["WorkerId", "application", "deployment", "replica", "route"],
            registry=self.registry,
        )
        for worker, (app, dep, replica) in WORKERS.items():
            requests.labels(worker, app, dep, replica, "/").inc()
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)

    def set(self, worker: str, kv: float, waiting: float) -> None:
        self.kv.labels(worker, "m").set(kv)
        self.waiting.labels(worker, "m").set(waiting)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus_and_exporter() -> Iterator[tuple[LocalPrometheus, RayMetricsExporter]]:
    if shutil.which("prometheus") is None:
        subprocess.run(["bash", str(REPO_ROOT / "scripts/setup.d/10-prometheus.sh")], check=True, timeout=600)
    workdir = Path(tempfile.mkdtemp(prefix="wva-serve-prom-"))
    exporter = RayMetricsExporter()
    prom = LocalPrometheus(workdir, config=LocalPrometheusConfig(scrape_interval_s=1.0, scrape_timeout_s=1.0))
    prom.write_targets([{"targets": [f"127.0.0.1:{exporter.port}"], "labels": {"job": "ray"}}])
    prom.start()
    try:
        yield prom, exporter
    finally:
        prom.stop()
        exporter.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_prometheus_mode_scales_on_joined_vllm_series_and_holds_without_them(
    prometheus_and_exporter: tuple[LocalPrometheus, RayMetricsExporter],
) -> None:
    prom, exporter = prometheus_and_exporter
    exporter.set("w1", 0.95, 2)
    exporter.set("w2", 0.90, 2)
    exporter.set("w9", 0.0, 0)  # idle replica of another deployment: would mask saturation if joined wrongly
    policy = WvaSaturationPolicy(
        mode="prometheus",
        max_metric_age_s=3.0,
        prometheus={"url": prom.url, "fetch_interval_s": 0.3, "timeout_s": 1.0, "window_s": 2.0},
    )
    answers: list[tuple[int, Reason]] = []

    def decide() -> tuple[int, Reason]:
        d = policy.decide(make_ctx({}, running=["r1", "r2"], deployment=DEPLOYMENT, app=APP, now_s=time.time()))
        answers.append((d.desired, d.reason))
        return d.desired, d.reason

    assert decide() == (2, Reason.METRICS_MISSING)  # first tick: nothing fetched yet, and it did not block
    wait_until(lambda: decide() == (3, Reason.SCALE_UP), 40, "scale-up from the joined ray_vllm_* series")

    exporter.set("w1", 0.0, 0)
    exporter.set("w2", 0.0, 0)
    wait_until(lambda: decide() == (1, Reason.SCALE_DOWN), 30, "scale-down once the 2 s window is idle")

    prom.stop()  # Prometheus gone: the last fetch ages past max_metric_age_s and the policy holds
    wait_until(lambda: decide() == (2, Reason.METRICS_MISSING), 15, "hold when Prometheus is unreachable")
    assert all(d >= 1 for d, _ in answers), f"never below one replica: {answers}"
