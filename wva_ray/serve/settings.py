"""Typed `policy_kwargs` of the wva-ray Serve autoscaling policies. No I/O.

Serve passes `AutoscalingPolicy.policy_kwargs` (JSON values) to the policy class constructor once, on the Serve
controller. They are validated here into frozen pydantic models; an invalid value raises a `ValueError` whose
message names the key and the value, so a bad YAML fails at deploy time rather than silently on every tick.

The `saturation` mapping uses the upstream ConfigMap keys (`kvCacheThreshold`, `queueLengthThreshold`,
`kvSpareTrigger`, `queueSpareTrigger`, ...) and is merged field by field over the built-in defaults, exactly as a
`wva-saturation-scaling-config` entry would be.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wva_ray.api.config import BUILTIN_SATURATION, SaturationEntry, SaturationSettings
from wva_ray.core.config import validate_settings

PolicyMode = Literal["replica_stats", "prometheus", "coordinator"]
SignalAggregation = Literal["max", "mean", "last"]

DEFAULT_KV_STAT = "kv_cache_usage_perc"
DEFAULT_QUEUE_STAT = "num_requests_waiting"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrometheusModeSettings(_Frozen):
    """Mode `prometheus`: where and how often the background thread queries the Ray-re-exported vLLM metrics."""

    url: str = "http://127.0.0.1:9090"
    fetch_interval_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    window_s: float = Field(default=60.0, gt=0)
    kv_metric: str = "ray_vllm_kv_cache_usage_perc"
    queue_metric: str = "ray_vllm_num_requests_waiting"
    join_metric: str = "ray_serve_deployment_request_counter_total"
    bearer_token: str | None = None


class CoordinatorSettings(_Frozen):
    """Mode `coordinator`: the named actor whose `get_target(app, deployment)` the background thread polls."""

    actor_name: str = "wva-coordinator"
    namespace: str = "wva"
    poll_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    max_decision_age_s: float | None = Field(default=300.0, gt=0)


class ServePolicySettings(_Frozen):
    """Everything one policy instance needs; built once from `policy_kwargs` by `parse_policy_kwargs`."""

    mode: PolicyMode = "replica_stats"
    saturation: SaturationSettings = BUILTIN_SATURATION
    kv_stat: str = DEFAULT_KV_STAT
    queue_stat: str = DEFAULT_QUEUE_STAT
    aggregation: SignalAggregation = "max"
    signal_window_s: float | None = Field(default=None, gt=0)
    max_metric_age_s: float = Field(default=30.0, gt=0)
    transition_timeout_s: float | None = Field(default=None, gt=0)
    prometheus: PrometheusModeSettings = PrometheusModeSettings()
    coordinator: CoordinatorSettings = CoordinatorSettings()

    @property
    def transition_lock_s(self) -> float:
        """How long the transition lock holds: `transition_timeout_s`, else `saturation.transitionTimeoutSeconds`."""
        if self.transition_timeout_s is not None:
            return self.transition_timeout_s
        return self.saturation.transition_timeout_seconds

    @model_validator(mode="after")
    def _saturation_is_valid(self) -> ServePolicySettings:
        problem = validate_settings(self.saturation)
        if problem is not None:
            raise ValueError(f"saturation: {problem}")
        return self


def saturation_from_entry(raw: Any) -> SaturationSettings:
    """Upstream ConfigMap keys (a mapping) merged over the built-in defaults. Raises ValueError naming the key."""
    if raw is None:
        return BUILTIN_SATURATION
    if not isinstance(raw, dict):
        raise ValueError(f"saturation: expected a mapping of upstream keys, got {type(raw).__name__} {raw!r}")
    try:
        entry = SaturationEntry.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        path = ".".join(["saturation", *(str(p) for p in first["loc"])])
        raise ValueError(f"{path}: {first['msg']} (got {first.get('input')!r})") from err
    unknown = entry.unknown_keys()
    if unknown:
        raise ValueError(f"saturation: unknown key(s) {unknown}; expected upstream names such as kvCacheThreshold")
    updates = {
        name: getattr(entry, name)
        for name in SaturationSettings.model_fields
        if name in SaturationEntry.model_fields and getattr(entry, name) is not None
    }
    return BUILTIN_SATURATION.model_copy(update=updates)


def parse_policy_kwargs(kwargs: dict[str, Any]) -> ServePolicySettings:
    """Validate `policy_kwargs`; raises ValueError naming the first bad key path and its value."""
    data = dict(kwargs)
    data["saturation"] = saturation_from_entry(data.get("saturation"))
    try:
        return ServePolicySettings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        if not first["loc"]:  # a cross-field rule: its message already names the fields and values
            raise ValueError(f"policy_kwargs: {first['msg'].removeprefix('Value error, ')}") from err
        path = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"policy_kwargs.{path}: {first['msg']} (got {first.get('input')!r})") from err
