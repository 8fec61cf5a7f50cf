"""The simulator adapter of analyzer `slo` (wva_ray.sim.policies.slo_policy) on hand-built observations."""

from __future__ import annotations

from wva_ray.api.service_class import ResolvedTarget
from wva_ray.sim.model.profiles import load_profiles
from wva_ray.sim.observe import ModelView, Observation, PodView, VariantView
from wva_ray.sim.policies.slo_policy import SloPolicy

STANDARD = ResolvedTarget("standard", 100, 50.0, 1000.0, "test")


def _pod(name: str, rate: float, waiting: float = 0.0) -> PodView:
    return PodView(
        name=name,
        ready=True,
        draining=False,
        kv_max_1m=0.3,
        queue_max_1m=waiting,
        kv_avg_30s=0.3,
        ongoing_avg_30s=20.0,
        running_last=20.0,
        waiting_last=waiting,
        avg_input_tokens_5m=1155.0,
        avg_output_tokens_5m=211.0,
        arrival_rate_1m=rate,
    )


def _obs(now_s: float, rate_per_pod: float, pods: int, gpu_free: dict[str, int] | None = None) -> Observation:
    prof = load_profiles()["llama-3.1-8b/H100"]
    view = VariantView(
        name="m-h100",
        model="m",
        profile=prof,
        cost_per_replica=1.0,
        current=pods,
        ready=pods,
        pending=0,
        min_replicas=1,
        max_replicas=10,
        startup_s=90.0,
        pods=tuple(_pod(f"p{i}", rate_per_pod) for i in range(pods)),
    )
    return Observation(now_s, (view,), (ModelView("m", 100, 0, 1000.0),), gpu_free)


def test_scales_up_for_the_rate_and_explains() -> None:
    policy = SloPolicy({"m": STANDARD}, safety_net=False)
    out = policy.decide(_obs(0.0, 40.0, 2))  # 80 req/s on 2 replicas of ~16 req/s each at the standard SLO
    assert 5 <= out["m-h100"] <= 10
    assert "expected 80.00 req/s" in policy.last_reasons["m-h100"]


def test_gpu_budget_limits_scale_up() -> None:
    policy = SloPolicy({"m": STANDARD}, safety_net=False)
    out = policy.decide(_obs(0.0, 40.0, 2, gpu_free={"H100": 1}))
    assert out["m-h100"] == 3


def test_scales_down_only_after_the_delay() -> None:
    policy = SloPolicy({"m": STANDARD}, safety_net=False)
    seen = [policy.decide(_obs(30.0 * i, 1.0, 6))["m-h100"] for i in range(16)]
    assert seen[0] == 6 and min(seen) < 6
    assert seen.index(min(seen)) * 30.0 >= policy.settings.sizing.down_delay_s
