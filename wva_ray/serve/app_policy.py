"""`WvaMultiVariantPolicy`: the application-level Ray Serve 2.60 policy for an app with one deployment per
accelerator variant of one model (cheapest-first, `wva_ray.serve.multi_variant`). No I/O on the tick.

Serve 2.60 accepts application-level policies only from a config file:

    applications:
    - name: llm
      import_path: ...
      autoscaling_policy:
        policy_function: wva_ray.serve.app_policy:WvaMultiVariantPolicy
        policy_kwargs: {variant_costs: {h100: 30.0, a100: 12.0}, ...}

Every variant deployment still needs its own `autoscaling_config` (min/max, delays): Serve applies those per
deployment on top of what this policy returns. `policy_kwargs` are those of `WvaSaturationPolicy` (mode
`replica_stats` or `prometheus`) plus `variant_costs` (deployment name -> cost per replica, default 10.0). When
`variant_costs` is given, only the deployments it names are treated as variants; others are left to Serve.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from wva_ray.serve.multi_variant import DEFAULT_VARIANT_COST, VariantInput, decide_variants
from wva_ray.serve.policy import SignalReader, view_from_context
from wva_ray.serve.settings import parse_policy_kwargs
from wva_ray.serve.state import DeploymentPolicyState

logger = logging.getLogger("ray.serve.wva")


def parse_variant_costs(raw: Any) -> dict[str, float] | None:
    """`variant_costs` as {deployment name: cost >= 0}; raises ValueError naming the bad entry."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"policy_kwargs.variant_costs: expected a mapping, got {type(raw).__name__} {raw!r}")
    costs: dict[str, float] = {}
    for name, cost in raw.items():
        ok = isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost) and cost >= 0
        if not ok:
            raise ValueError(f"policy_kwargs.variant_costs.{name}: expected a number >= 0, got {cost!r}")
        costs[str(name)] = float(cost)
    return costs


class WvaMultiVariantPolicy:
    """Serve application-level policy (class form). Call: `{DeploymentID: ctx}` -> `({id: n}, {id: state})`."""

    def __init__(self, **policy_kwargs: Any) -> None:
        kwargs = dict(policy_kwargs)
        self.variant_costs = parse_variant_costs(kwargs.pop("variant_costs", None))
        self.settings = parse_policy_kwargs(kwargs)
        if self.settings.mode == "coordinator":
            raise ValueError(
                "policy_kwargs.mode: 'coordinator' is a per-deployment mode (the coordinator already applies "
                "cheapest-first); use WvaSaturationPolicy on each deployment instead"
            )
        self._signals = SignalReader(self.settings)

    def _cost(self, name: str) -> float:
        if self.variant_costs is None:
            return DEFAULT_VARIANT_COST
        return self.variant_costs[name]

    def __call__(self, contexts: dict[Any, Any]) -> tuple[dict[Any, int], dict[Any, dict[str, Any]]]:
        inputs: list[VariantInput] = []
        ids: dict[str, Any] = {}
        for dep_id, ctx in contexts.items():
            name = str(ctx.deployment_name)
            if self.variant_costs is not None and name not in self.variant_costs:
                continue
            view = view_from_context(ctx)
            state = DeploymentPolicyState.from_policy_state(ctx.policy_state)
            inputs.append(VariantInput(name, self._cost(name), view, state, self._signals.pods(ctx, view.now_s)))
            ids[name] = dep_id
        decisions = decide_variants(inputs, self.settings.saturation, self.settings.transition_lock_s)
        replicas: dict[Any, int] = {}
        states: dict[Any, dict[str, Any]] = {}
        for v in inputs:
            d = decisions[v.name]
            if d.desired != v.state.last_desired or d.reason.value != v.state.last_reason:
                logger.info(
                    "wva app policy app=%s deployment=%s desired=%d (running=%d target=%d) reason=%s",
                    ids[v.name].app_name,
                    v.name,
                    d.desired,
                    v.view.current,
                    v.view.target,
                    d.reason.value,
                )
            replicas[ids[v.name]] = d.desired
            states[ids[v.name]] = d.state.to_policy_state()
        return replicas, states
