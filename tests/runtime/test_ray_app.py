"""The RayService-mode Serve application (`wva_ray.runtime.ray_app`) deployed with REAL Ray Serve on the session
Ray. Marker `integration`.

The supervisor replica runs the same controller as `wva-ray run` in Ray mode; its cluster is the runtime's
in-memory API server (`MemoryCluster`, hosted in an actor) with one saturated model, so the test sees the
coordinator actor appear, decide (a scale-up) and publish, pinned through the head resource, with the decision
gauges on the supervisor's one metrics port, and go away when the application is deleted. The head resource
is Ray's own `node:__internal_head__` (the local node is the head).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.runtime.coordinator_actor import COORDINATOR_NAME, NAMESPACE
from wva_ray.settings import RuntimeSettings, Settings
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.memory_wiring import MemoryWiring

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

APP = "wva-ray-app-test"
HEAD = "node:__internal_head__"


def _wait(pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _coordinator() -> Any:
    import ray

    try:
        return ray.get_actor(COORDINATOR_NAME, namespace=NAMESPACE)
    except ValueError:
        return None


def _scrape(port: int) -> dict[tuple[str, str], float]:
    """(sample name, variant_name) -> value of the wva_* samples served on `port`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    out = {
        (s.name, s.labels.get("variant_name", "")): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name.startswith("wva_")
    }
    return out


@pytest.fixture
def memory_cluster(serve_started: None) -> Iterator[Any]:
    import ray

    host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
    cluster = host_cls.options(name="ray-app-test-cluster", namespace=NAMESPACE).remote(time.monotonic)
    specs = [
        VariantSpec(f"m0-{acc.lower()}", "m0", acc, cost=cost, namespace="llm", max_replicas=4)
        for acc, cost in (("H100", 10.0), ("L40S", 3.0))
    ]
    ray.get([cluster.add_variant.remote(s) for s in specs])
    ray.get(cluster.set_load.remote("m0", 0.95, 10.0))  # saturated: the coordinator scales it up
    yield cluster
    ray.kill(cluster, no_restart=True)


def test_ray_app_runs_the_controller_coordinator_decides_pinned_to_the_head(memory_cluster: Any) -> None:
    import ray
    from ray import serve

    from wva_ray.runtime.ray_app import build_app

    assert _coordinator() is None, "a wva-coordinator is already running on the session Ray"
    settings = Settings(
        runtime=RuntimeSettings(
            use_ray=True,
            leader_election=False,
            interval_s=1.0,
            shards=2,
            metrics_port=0,
            health_port=0,
            bind_address="127.0.0.1",
            head_resource=HEAD,
        )
    )
    handle = serve.run(build_app(settings, MemoryWiring(memory_cluster, direct=True)), name=APP, route_prefix=None)
    try:
        coordinator = _wait(_coordinator, 60, "the coordinator actor to appear")
        _wait(
            lambda: (ray.get(memory_cluster.desired.remote("llm", "m0-l40s")) or 0) >= 2,
            60,
            "the coordinator to decide and publish a scale-up of m0",
        )
        summaries = ray.get(coordinator.summaries.remote(0), timeout=30)
        assert summaries and set(summaries[-1].desired) == {"llm/m0-h100", "llm/m0-l40s"}

        assigned = ray.get(coordinator.info.remote(), timeout=30)["resources"]
        assert assigned.get(HEAD) == pytest.approx(0.01), f"coordinator not pinned through {HEAD}: {assigned}"

        status = handle.status.remote().result(timeout_s=30)
        assert status["running"] and status["leader"], status
        _wait(lambda: handle.status.remote().result(timeout_s=30)["ready"], 30, "the controller to be ready")
        health = urllib.request.urlopen(f"http://127.0.0.1:{status['ports']['health']}/readyz", timeout=5)
        assert health.status == 200
        assert handle.remote(None).result(timeout_s=30).status_code == 200
        # one port: the supervisor's metrics_port serves the coordinator's decision gauges with its own flags
        port = status["ports"]["metrics"]
        metrics = _wait(
            lambda: (m := _scrape(port)).get(("wva_desired_replicas", "m0-l40s"), 0) >= 2 and m,
            30,
            "the scale-up in wva_desired_replicas on metrics_port (relayed after the cycle)",
        )
        assert metrics[("wva_is_leader", "")] == 1
    finally:
        serve.delete(APP, _blocking=True)
    _wait(lambda: _coordinator() is None, 60, "the coordinator to stop with the application")
