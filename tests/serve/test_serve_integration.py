"""Real Serve on the session's real Ray: WvaSaturationPolicy drives a FakeLLM deployment whose replicas report
KV usage derived from their in-flight requests (mode `replica_stats`), and holds when replicas report nothing."""

from __future__ import annotations

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


def test_replica_stats_scale_up_under_load_and_back_to_one(app_name: str) -> None:
    handle = deploy(
        app_name,
        fast_autoscaling({"mode": "replica_stats", "max_metric_age_s": 3.0}),
        kv_slots=4,
        service_s=0.4,
    )
    assert running_replicas(app_name, DEPLOYMENT) == 1
    with ClosedLoopLoad(handle, concurrency=12) as load:
        # 12 in flight over 4-slot replicas: 1 and 2 replicas are saturated, 3 sit at KV 1.0, 4 leave spare KV
        up_s = wait_until(lambda: running_replicas(app_name, DEPLOYMENT) >= 3, 60, "scale-up to >= 3 under load")
        assert not load.errors
    assert load.completed > 0
    down_s = wait_until(lambda: running_replicas(app_name, DEPLOYMENT) == 1, 60, "scale-down back to 1 when idle")
    print(f"replica_stats: 1 -> >=3 in {up_s:.1f}s under load, back to 1 in {down_s:.1f}s after it stopped")


def test_missing_replica_stats_hold_instead_of_scaling_down(app_name: str) -> None:
    """Replicas that report nothing: the policy holds 3 replicas; reading missing as 0 would shrink to 1."""
    deploy(
        app_name,
        fast_autoscaling({"mode": "replica_stats", "max_metric_age_s": 3.0}, initial_replicas=3),
        report_stats=False,
    )
    wait_until(lambda: running_replicas(app_name, DEPLOYMENT) == 3, 30, "3 initial replicas running")
    counts = observe(app_name, DEPLOYMENT, duration_s=6.0)
    assert min(counts) == 3, f"replica count moved while metrics were missing: {counts}"
