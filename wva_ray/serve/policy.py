"""`WvaSaturationPolicy`: the deployment-level Ray Serve 2.60 custom autoscaling policy of wva-ray. No I/O on the
tick: modes `prometheus` and `coordinator` read a value that a background `Poller` thread refreshes.

Turn it on with `AutoscalingConfig(policy=AutoscalingPolicy(policy_function=
"wva_ray.serve.policy:WvaSaturationPolicy", policy_kwargs={...}))` (kwargs: `wva_ray.serve.settings`). Serve
instantiates the class once per deployment on its controller and calls it every 0.1 s with an
`AutoscalingContext`; it returns `(replicas, policy_state)` and Serve applies its own scaling factors, delays and
min/max bounds on top (docs/ray-serve.md).

Modes:
- `replica_stats`: replicas report KV-cache usage and waiting requests via `record_autoscaling_stats()`
  (`wva_ray.serve.mixin`); core's V1 analyzer runs on them (`wva_ray.serve.step`).
- `prometheus`: the same analysis on `ray_vllm_*` series joined to the replicas (`wva_ray.serve.prometheus`).
- `coordinator`: follow the wva-ray coordinator's decision for this deployment (`wva_ray.serve.coordinator_link`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable, Sequence
from typing import Any

from wva_ray.serve.background import Poller
from wva_ray.serve.coordinator_link import CoordinatorTarget, fetch_coordinator_target, follow_coordinator
from wva_ray.serve.prometheus import PrometheusReplicaSignals, ReplicaSignalsByName
from wva_ray.serve.settings import ServePolicySettings, parse_policy_kwargs
from wva_ray.serve.signals import SignalWindow, replica_pods
from wva_ray.serve.state import DeploymentPolicyState, DeploymentView, StepDecision
from wva_ray.serve.step import decide_step

logger = logging.getLogger("ray.serve.wva")

DeploymentKey = tuple[str, str]


def view_from_context(ctx: Any) -> DeploymentView:
    """The fields of a Serve `AutoscalingContext` the policies use. Raises ValueError if it carries no time."""
    now_s = ctx.current_time
    if now_s is None:
        raise ValueError("AutoscalingContext.current_time is None: the policy needs the context's time")
    return DeploymentView(
        now_s=float(now_s),
        current=int(ctx.current_num_replicas),
        target=int(ctx.target_num_replicas),
        min_replicas=int(ctx.capacity_adjusted_min_replicas),
        max_replicas=int(ctx.capacity_adjusted_max_replicas),
    )


def deployment_key(ctx: Any) -> DeploymentKey:
    return (str(ctx.app_name or ""), str(ctx.deployment_name))


class SignalReader:
    """Per-replica (kv, queue) signals for one tick, in mode `replica_stats` or `prometheus`.

    Owns one Poller per deployment in mode `prometheus` (a policy instance normally serves one deployment; the
    application-level policy serves several), so no state is shared between deployments.
    """

    def __init__(self, settings: ServePolicySettings) -> None:
        self._settings = settings
        self._pollers: dict[DeploymentKey, Poller[ReplicaSignalsByName]] = {}

    def _poller(self, key: DeploymentKey) -> Poller[ReplicaSignalsByName]:
        poller = self._pollers.get(key)
        if poller is None:
            fetch = PrometheusReplicaSignals(self._settings.prometheus, key[0], key[1])
            poller = Poller(f"prometheus:{key[0]}/{key[1]}", fetch, self._settings.prometheus.fetch_interval_s)
            self._pollers[key] = poller
            poller.ensure_started()
        return poller

    def pods(self, ctx: Any, now_s: float) -> tuple[tuple[float, float], ...]:
        running: Sequence[Hashable] = ctx.running_replicas
        s = self._settings
        if s.mode == "prometheus":
            fetched = self._poller(deployment_key(ctx)).latest()
            if fetched is None or now_s - fetched.at_s > s.max_metric_age_s:
                return ()
            by_replica = fetched.value.by_replica
            return tuple(by_replica[r.unique_id] for r in running if r.unique_id in by_replica)  # type: ignore[attr-defined]
        window_s = s.signal_window_s
        if window_s is None:
            window_s = float(getattr(ctx.config, "look_back_period_s", 30.0))
        window = SignalWindow(now_s, window_s, s.max_metric_age_s, s.aggregation)
        return replica_pods(ctx.raw_metrics, running, s.kv_stat, s.queue_stat, window)


class WvaSaturationPolicy:
    """Serve custom autoscaling policy (class form: instantiated once with `policy_kwargs`, called per tick)."""

    def __init__(self, **policy_kwargs: Any) -> None:
        self.settings = parse_policy_kwargs(policy_kwargs)
        self._signals = SignalReader(self.settings)
        self._coordinator_pollers: dict[DeploymentKey, Poller[CoordinatorTarget | None]] = {}

    def _coordinator_poller(self, key: DeploymentKey) -> Poller[CoordinatorTarget | None]:
        poller = self._coordinator_pollers.get(key)
        if poller is None:
            c = self.settings.coordinator
            fetch = functools.partial(fetch_coordinator_target, c, key[0], key[1])
            poller = Poller(f"coordinator:{key[0]}/{key[1]}", fetch, c.poll_interval_s)
            self._coordinator_pollers[key] = poller
            poller.ensure_started()
        return poller

    def decide(self, ctx: Any, state: DeploymentPolicyState | None = None) -> StepDecision:
        """The typed decision for one tick (what `__call__` returns, before conversion to Serve's shapes).
        `state` is the context's policy state already parsed (read from the context when None)."""
        view = view_from_context(ctx)
        if self.settings.mode == "coordinator":
            fetched = self._coordinator_poller(deployment_key(ctx)).latest()
            return follow_coordinator(view, fetched, self.settings.coordinator)
        if state is None:
            state = DeploymentPolicyState.from_policy_state(ctx.policy_state)
        pods = self._signals.pods(ctx, view.now_s)
        return decide_step(view, pods, state, self.settings.saturation, self.settings.transition_lock_s)

    def __call__(self, ctx: Any) -> tuple[int, dict[str, Any]]:
        previous = DeploymentPolicyState.from_policy_state(ctx.policy_state)
        decision = self.decide(ctx, previous)
        if decision.desired != previous.last_desired or decision.reason.value != previous.last_reason:
            logger.info(
                "wva policy app=%s deployment=%s mode=%s desired=%d (running=%d target=%d) reason=%s",
                ctx.app_name,
                ctx.deployment_name,
                self.settings.mode,
                decision.desired,
                ctx.current_num_replicas,
                ctx.target_num_replicas,
                decision.reason.value,
            )
        return decision.desired, decision.state.to_policy_state()
