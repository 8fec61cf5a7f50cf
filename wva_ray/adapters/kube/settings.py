"""What the Kubernetes adapter connects to and reads (typed arguments; no I/O, no environment).

Filled from the environment by the one settings tree, `wva_ray.settings` (section `kube`), for `wva-ray run`,
`wva-ray plan --from-cluster` and the RayService app alike; tests and benchmarks construct it directly.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFAULT_POD_NAMESPACE = "workload-variant-autoscaler-system"
DEFAULT_SATURATION_CONFIG_MAP = "wva-saturation-scaling-config"
SCALE_TO_ZERO_CONFIG_MAP = "wva-model-scale-to-zero-config"


class KubeSettings(BaseModel):
    """The cluster side of one controller instance: credentials, scope, and the ConfigMaps it reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kubeconfig: str | None = None  # None: $KUBECONFIG / ~/.kube/config, else the in-cluster service account
    watch_namespace: str | None = None
    pod_namespace: str = DEFAULT_POD_NAMESPACE
    controller_instance: str | None = None
    saturation_config_map: str = DEFAULT_SATURATION_CONFIG_MAP
    scale_to_zero_config_map: str = SCALE_TO_ZERO_CONFIG_MAP
    # analyzer slo (global only): upstream's service classes and our optional performance profiles
    service_classes_config_map: str = "service-classes-config"
    slo_profiles_config_map: str = "wva-slo-profiles"
    # WVA v0.9 (QUEUEING_MODEL_CONFIG_MAP_NAME): mapped onto analyzer slo (core.v09_queueing)
    queueing_model_config_map: str = "wva-queueing-model-config"
    scale_to_zero_fallback: bool = False
    node_selector: dict[str, str] = {}  # only nodes with these labels count in the GPU inventory
