"""Real Serve on the session's real Ray: WvaSaturationPolicy drives a FakeLLM deployment whose replicas report
KV usage derived from their in-flight requests (mode `replica_stats`), and holds when replicas report nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.harness import ClosedLoopLoad, observe, running_replicas, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

POLICY = "wva_ray.serve.policy:WvaSaturationPolicy"
DEPLOYMENT = "FakeLLM"


def fast_autoscaling(policy_kwargs: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Serve delays shortened for a test (replicas push stats every 0.5 s; decisions act at once)."""
    config: dict[str, Any] = {
        "min_replicas": 1,
        "max_replicas": 4,
        "initial_replicas": 1,
        "metrics_interval_s": 0.5,
        "look_back_period_s": 2.0,
        "upscale_delay_s": 0.0,
        "downscale_delay_s": 1.0,
        "target_ongoing_requests": 1000,  # Serve's default policy would never scale on this load: ours must
        "policy": {"policy_function": POLICY, "policy_kwargs": policy_kwargs},
    }
    config.update(overrides)
    return config


def deploy(app_name: str, autoscaling: dict[str, Any], **fake_llm: Any) -> Any:
    from ray import serve

    from wva_ray.serve.demo import FakeLLM

    app = FakeLLM.options(autoscaling_config=autoscaling).bind(**fake_llm)
    return serve.run(app, name=app_name, route_prefix=None)


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
