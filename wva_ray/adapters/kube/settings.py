"""Settings of the Kubernetes adapter, read once from the environment (pure parsing of a mapping, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_POD_NAMESPACE = "workload-variant-autoscaler-system"
DEFAULT_SATURATION_CONFIG_MAP = "wva-saturation-scaling-config"
SCALE_TO_ZERO_CONFIG_MAP = "wva-model-scale-to-zero-config"
DEFAULT_HEARTBEAT_S = 300.0
LEASE_NAME = "72dd1cf1.llm-d.ai"


def _parse_node_selector(text: str) -> dict[str, str]:
    selector: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"WVA_NODE_SELECTOR: expected key=value pairs, got {part!r}")
        selector[key.strip()] = value.strip()
    return selector


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"", "0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}: expected a boolean, got {text!r}")


@dataclass(frozen=True)
class KubeSettings:
    """What the adapter reads and where (upstream environment names)."""

    watch_namespace: str | None = None
    pod_namespace: str = DEFAULT_POD_NAMESPACE
    controller_instance: str | None = None
    saturation_config_map: str = DEFAULT_SATURATION_CONFIG_MAP
    scale_to_zero_config_map: str = SCALE_TO_ZERO_CONFIG_MAP
    # analyzer slo (global only): upstream's service classes and our optional performance profiles
    service_classes_config_map: str = "service-classes-config"
    slo_profiles_config_map: str = "wva-slo-profiles"
    scale_to_zero_fallback: bool = False
    node_selector: dict[str, str] = field(default_factory=dict)
    status_heartbeat_s: float = DEFAULT_HEARTBEAT_S
    lease_name: str = LEASE_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KubeSettings:
        heartbeat = env.get("WVA_STATUS_HEARTBEAT_SECONDS", str(DEFAULT_HEARTBEAT_S))
        try:
            heartbeat_s = float(heartbeat)
        except ValueError as exc:
            raise ValueError(f"WVA_STATUS_HEARTBEAT_SECONDS: expected seconds, got {heartbeat!r}") from exc
        return cls(
            watch_namespace=env.get("WATCH_NAMESPACE") or None,
            pod_namespace=env.get("POD_NAMESPACE") or DEFAULT_POD_NAMESPACE,
            controller_instance=env.get("CONTROLLER_INSTANCE") or None,
            saturation_config_map=env.get("SATURATION_CONFIG_MAP_NAME") or DEFAULT_SATURATION_CONFIG_MAP,
            scale_to_zero_fallback=_parse_bool("WVA_SCALE_TO_ZERO", env.get("WVA_SCALE_TO_ZERO", "")),
            node_selector=_parse_node_selector(env.get("WVA_NODE_SELECTOR", "")),
            status_heartbeat_s=heartbeat_s,
            lease_name=env.get("LEADER_ELECTION_ID") or LEASE_NAME,
        )
