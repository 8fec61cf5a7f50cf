"""Real Serve + the REAL wva-ray coordinator (runtime's CoordinatorActor and a shard actor on the session Ray),
mode `coordinator`: the deployment follows `get_target(app, deployment)` of the named coordinator actor.

The coordinator's cluster is the runtime's in-memory API server (`MemoryCluster`, hosted in an actor) holding one
VariantAutoscaling named like the Serve deployment, in a namespace named like the Serve app. The test mirrors
Serve's running replicas into that cluster (what a Serve-aware cluster view would observe) and scripts the
model's per-pod KV/queue signals (saturated while the load runs, idle after, an outage in between)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.serve.harness import DEPLOYMENT, ClosedLoopLoad, deploy, fast_autoscaling, running_replicas, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

MODEL = "fake-llm"


def test_coordinator_mode_follows_the_real_coordinator_and_holds_on_its_held_decisions(app_name: str) -> None:
    import ray

    from wva_ray.runtime.coordinator_actor import COORDINATOR_NAME, CoordinatorOptions
    from wva_ray.runtime.launch import start_ray_runtime, stop_ray_runtime
    from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
    from wva_ray.testing.memory_wiring import MemoryWiring

    prefix = f"s{uuid.uuid4().hex[:6]}-"
    host_cls: Any = ray.remote(num_cpus=0)(MemoryCluster)
    cluster = host_cls.options(name=f"{prefix}cluster", namespace="wva").remote(time.monotonic)
    ray.get(cluster.add_variant.remote(VariantSpec(DEPLOYMENT, MODEL, "H100", namespace=app_name, max_replicas=3)))
    ray.get(cluster.set_load.remote(MODEL, 0.5, 0.0))
    options = CoordinatorOptions(shards=1, interval_s=1.0, deadline_s=0.5)
    runtime = start_ray_runtime(MemoryWiring(cluster, direct=False), options, name_prefix=prefix)

    coordinator = {"actor_name": f"{prefix}{COORDINATOR_NAME}", "poll_interval_s": 0.5}
    kwargs = {"mode": "coordinator", "coordinator": coordinator}
    handle = deploy(app_name, fast_autoscaling(kwargs), kv_slots=4, service_s=0.4)

    def serve_running() -> int:
        """Serve's running replicas, mirrored into the coordinator's cluster (its 'current')."""
        n = running_replicas(app_name, DEPLOYMENT)
        ray.get(cluster.scale.remote(app_name, DEPLOYMENT, n, True))
        return n

    def held_for(seconds: float) -> list[int]:
        counts, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            counts.append(serve_running())
            time.sleep(0.25)
        return counts

    try:
        with ClosedLoopLoad(handle, concurrency=12) as load:
            ray.get(cluster.set_load.remote(MODEL, 0.95, 8.0))  # saturated: +1 per coordinator cycle
            up_s = wait_until(lambda: serve_running() == 3, 90, "Serve to follow the coordinator up to 3")
            # metrics outage: the coordinator holds (get_target answers None), so the policy holds too
            ray.get(cluster.set_metrics_outage.remote(True))
            assert not load.errors
        ray.get(cluster.set_load.remote(MODEL, 0.0, 0.0))
        held = held_for(4.0)
        assert set(held) == {3}, f"replicas moved while the coordinator had no metrics: {held}"
        ray.get(cluster.set_metrics_outage.remote(False))
        down_s = wait_until(lambda: serve_running() == 1, 90, "Serve to follow the coordinator back to 1")
        print(f"real coordinator: 1 -> 3 in {up_s:.1f}s under saturation, 3 -> 1 in {down_s:.1f}s after the outage")
    finally:
        stop_ray_runtime(runtime)
        ray.kill(cluster, no_restart=True)
