"""Real Serve on real Ray, mode `coordinator`: the deployment follows the decision published by a named actor in
namespace `wva` through `get_target(app, deployment)`, and holds when the actor is gone.

The actor here is a minimal stand-in with exactly the contract of `wva_ray.serve.coordinator_link` (the runtime's
coordinator did not expose `get_target` when this test was written); the test drives its decisions."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.serve.harness import (
    DEPLOYMENT,
    ClosedLoopLoad,
    deploy,
    fast_autoscaling,
    observe,
    running_replicas,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class StandInCoordinator:
    """Holds one decision per (app, deployment); `get_target` follows the documented contract."""

    def __init__(self) -> None:
        self._targets: dict[tuple[str, str], dict[str, Any]] = {}

    def set_target(self, app_name: str, deployment: str, desired_replicas: int) -> None:
        self._targets[(app_name, deployment)] = {"desired_replicas": desired_replicas, "decided_at_s": time.time()}

    def get_target(self, app_name: str, deployment: str) -> dict[str, Any] | None:
        return self._targets.get((app_name, deployment))


def test_coordinator_mode_follows_decisions_and_holds_when_coordinator_is_gone(app_name: str) -> None:
    import ray

    actor_name = f"wva-coordinator-test-{uuid.uuid4().hex[:8]}"
    actor_cls = ray.remote(num_cpus=0)(StandInCoordinator)
    coordinator = actor_cls.options(name=actor_name, namespace="wva").remote()
    kwargs = {"mode": "coordinator", "coordinator": {"actor_name": actor_name, "poll_interval_s": 0.5}}
    handle = deploy(app_name, fast_autoscaling(kwargs), kv_slots=4, service_s=0.4)
    try:
        # no decision yet for this deployment: hold
        assert max(observe(app_name, DEPLOYMENT, duration_s=2.0)) == 1
        with ClosedLoopLoad(handle, concurrency=12) as load:
            ray.get(coordinator.set_target.remote(app_name, DEPLOYMENT, 3))
            up_s = wait_until(lambda: running_replicas(app_name, DEPLOYMENT) == 3, 60, "scale-up to coordinator's 3")
            # the coordinator disappears: Serve keeps 3 replicas (hold), never scales on missing data
            ray.kill(coordinator)
            held = observe(app_name, DEPLOYMENT, duration_s=4.0)
            assert min(held) == 3 and max(held) == 3, f"replica count moved without a coordinator: {held}"
            assert not load.errors
        coordinator = actor_cls.options(name=actor_name, namespace="wva").remote()
        ray.get(coordinator.set_target.remote(app_name, DEPLOYMENT, 1))
        down_s = wait_until(lambda: running_replicas(app_name, DEPLOYMENT) == 1, 60, "back to coordinator's 1")
        print(f"coordinator: 1 -> 3 in {up_s:.1f}s after the decision, 3 -> 1 in {down_s:.1f}s")
    finally:
        ray.kill(coordinator)
