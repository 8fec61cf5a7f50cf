"""`helm lint` and `helm template` of helm/wva-ray with the real helm binary, in both controller modes, with and
without the optional parts; the rendered objects are checked against the project's own models and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.tools import CHART, Doc, by_kind, helm_lint, one, promql_check, render
from wva_ray.api.config import SaturationEntry, ScaleToZeroEntry, parse_duration_s
from wva_ray.api.va import ACCELERATOR_LABEL, CONTROLLER_INSTANCE_LABEL, VariantAutoscaling
from wva_ray.settings import env_names, load_settings

VARIANTS: list[dict[str, Any]] = [
    {
        "name": "llama-8b-h100",
        "namespace": "llm",
        "modelID": "meta-llama/Llama-3.1-8B-Instruct",
        "accelerator": "H100",
        "variantCost": "12.5",
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama-h100"},
        "maxReplicas": 6,
    },
    {
        "name": "llama-8b-a100",
        "modelID": "meta-llama/Llama-3.1-8B-Instruct",
        "accelerator": "A100",
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama-a100"},
        "hpa": {"minReplicas": 2, "maxReplicas": 4},
        "keda": {"maxReplicaCount": 3},
    },
]
ALL_OPTIONAL: dict[str, Any] = {
    "networkPolicy": {"enabled": True, "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
    "serviceMonitor": {"enabled": True},
    "podMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "variants": VARIANTS,
    "hpa": {"enabled": True},
    "saturation": {"overrides": {"llama": {"model_id": "meta-llama/Llama-3.1-8B-Instruct", "kvCacheThreshold": 0.7}}},
    "scaleToZero": {
        "overrides": {"llama": {"model_id": "meta-llama/Llama-3.1-8B-Instruct", "retention_period": "15m"}}
    },
}
RAYSERVICE = {"controller": {"mode": "rayservice"}}
CHART_VALUES = yaml.safe_load((Path(__file__).resolve().parents[2] / "helm/wva-ray/values.yaml").read_text())


def _settings_env_names() -> set[str]:
    """Every environment variable the settings tree reads."""
    return set(env_names())


def _controller_container(docs: list[Doc]) -> dict[str, Any]:
    deployments = by_kind(docs, "Deployment")
    if deployments:
        pod = deployments[0]["spec"]["template"]["spec"]
    else:
        pod = one(docs, "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    container: dict[str, Any] = pod["containers"][0]
    return container


def _pod_template(docs: list[Doc]) -> dict[str, Any]:
    deployments = by_kind(docs, "Deployment")
    if deployments:
        template: dict[str, Any] = deployments[0]["spec"]["template"]
    else:
        template = one(docs, "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]
    return template


@pytest.mark.parametrize(
    ("values", "kube_version"),
    [
        pytest.param(None, None, id="defaults"),
        pytest.param(RAYSERVICE, None, id="rayservice"),
        pytest.param(ALL_OPTIONAL, None, id="all-optional"),
        pytest.param(ALL_OPTIONAL, "1.20.2", id="all-optional-k8s-1.20"),
        pytest.param({**RAYSERVICE, **ALL_OPTIONAL}, None, id="rayservice-all-optional"),
        pytest.param({"variants": VARIANTS, "keda": {"enabled": True}}, None, id="keda"),
        pytest.param(
            {"rbac": {"scope": "namespace"}, "controller": {"watchNamespace": "llm"}}, None, id="namespace-scope"
        ),
    ],
)
def test_helm_lint_strict_passes(helm_path: Path, values: dict[str, Any] | None, kube_version: str | None) -> None:
    result = helm_lint(values, kube_version=kube_version)
    assert result.ok, result.describe()
    assert "0 chart(s) failed" in result.stdout


def test_deployment_mode_renders_the_controller_as_a_deployment_only() -> None:
    docs = render()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ServiceAccount",
            "ConfigMap",
            "ConfigMap",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "Pod",  # the `helm test` hook
        ]
    )
    container = _controller_container(docs)
    assert container["args"] == ["run"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]


def test_rayservice_mode_pins_the_coordinator_to_the_head_with_token_auth() -> None:
    docs = render(RAYSERVICE)
    assert by_kind(docs, "Deployment") == []
    rs = one(docs, "RayService")
    cluster = rs["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == "2.60.0"
    assert cluster["authOptions"] == {"mode": "token"}
    assert cluster["workerGroupSpecs"] == []
    head = cluster["headGroupSpec"]
    resources = yaml.safe_load(yaml.safe_load(head["rayStartParams"]["resources"]))
    assert resources == {"wva-head": 1}
    assert head["template"]["spec"]["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    serve = yaml.safe_load(rs["spec"]["serveConfigV2"])
    app = serve["applications"][0]
    assert app["import_path"] == CHART_VALUES["rayService"]["importPath"]
    assert app["runtime_env"]["env_vars"]["WVA_HEAD_RESOURCE"] == "wva-head"


def test_rayservice_token_auth_can_be_disabled() -> None:
    rs = one(render({"controller": {"mode": "rayservice"}, "rayService": {"authMode": "disabled"}}), "RayService")
    assert "authOptions" not in rs["spec"]["rayClusterConfig"]


@pytest.mark.parametrize("values", [pytest.param(None, id="deployment"), pytest.param(RAYSERVICE, id="rayservice")])
def test_every_controller_setting_is_one_the_runtime_reads(values: dict[str, Any] | None) -> None:
    env = _controller_container(render(values))["env"]
    ours = {e["name"] for e in env if not e["name"].startswith("RAY_")}
    unknown = ours - _settings_env_names()
    assert not unknown, f"env vars no setting of wva_ray.settings reads (inert knobs): {sorted(unknown)}"


def test_environment_carries_upstream_names_and_values() -> None:
    values = {
        "prometheus": {
            "baseURL": "https://prom.example:9091",
            "tls": {"secretName": "prom-ca", "clientCert": True, "serverName": "prom.internal"},
            "auth": {"existingSecret": "prom-token"},
        },
        "controller": {
            "interval": "15s",
            "shards": 4,
            "actuation": "direct",
            "controllerInstance": "blue",
            "watchNamespace": "llm",
            "scaleToZero": True,
        },
    }
    docs = render(values)
    env = {e["name"]: e for e in _controller_container(docs)["env"]}
    assert env["PROMETHEUS_BASE_URL"]["value"] == "https://prom.example:9091"
    assert env["PROMETHEUS_CA_CERT_PATH"]["value"] == "/etc/wva/prometheus-tls/ca.crt"
    assert env["PROMETHEUS_CLIENT_CERT_PATH"]["value"] == "/etc/wva/prometheus-tls/tls.crt"
    assert env["PROMETHEUS_SERVER_NAME"]["value"] == "prom.internal"
    assert env["PROMETHEUS_BEARER_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "prom-token", "key": "token"}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["GLOBAL_OPT_INTERVAL"]["value"] == "15s"
    assert env["WVA_SHARDS"]["value"] == "4"
    assert env["WVA_ACTUATION"]["value"] == "direct"
    assert env["CONTROLLER_INSTANCE"]["value"] == "blue"
    assert env["WATCH_NAMESPACE"]["value"] == "llm"
    assert env["WVA_SCALE_TO_ZERO"]["value"] == "true"
    pod = _pod_template(docs)["spec"]
    assert {"name": "prometheus-tls", "secret": {"secretName": "prom-ca"}} in pod["volumes"]
    # the values the runtime will read parse with its own settings object
    plain = {k: e["value"] for k, e in env.items() if "value" in e}
    settings = load_settings(environ=plain)
    assert settings.runtime.interval_s == 15.0
    assert settings.runtime.shards == 4
    assert settings.runtime.actuation == "direct"


def test_optional_env_is_absent_by_default() -> None:
    env = {e["name"] for e in _controller_container(render())["env"]}
    for name in ("PROMETHEUS_BEARER_TOKEN", "PROMETHEUS_CA_CERT_PATH", "CONTROLLER_INSTANCE", "WATCH_NAMESPACE"):
        assert name not in env


@pytest.mark.parametrize("values", [pytest.param(None, id="deployment"), pytest.param(RAYSERVICE, id="rayservice")])
def test_service_selects_the_controller_pod_and_its_ports(values: dict[str, Any] | None) -> None:
    docs = render(values)
    service = one(docs, "Service")
    template = _pod_template(docs)
    labels = template["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    port_names = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
    for port in service["spec"]["ports"]:
        target = port["targetPort"]
        assert target in port_names or target in {p["containerPort"] for p in _controller_container(docs)["ports"]}


@pytest.mark.parametrize("values", [pytest.param(None, id="deployment"), pytest.param(RAYSERVICE, id="rayservice")])
def test_monitors_select_what_exists(values: dict[str, Any] | None) -> None:
    docs = render({**(values or {}), "serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}})
    service = one(docs, "Service")
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= service_ports
    assert sm["spec"]["endpoints"][0]["honorLabels"] is False  # keeps exported_namespace (upstream convention)
    pm = one(docs, "PodMonitor")
    template = _pod_template(docs)
    assert pm["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    pod_ports = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
    assert {e["port"] for e in pm["spec"]["podMetricsEndpoints"]} <= pod_ports


def test_monitors_are_off_by_default() -> None:
    docs = render()
    assert by_kind(docs, "ServiceMonitor") == [] and by_kind(docs, "PodMonitor") == []


def test_configmaps_keep_upstream_names_and_parse_with_our_models() -> None:
    docs = render(ALL_OPTIONAL)
    cms = {d["metadata"]["name"]: d["data"] for d in by_kind(docs, "ConfigMap")}
    assert set(cms) == {"wva-saturation-scaling-config", "wva-model-scale-to-zero-config"}
    sat = cms["wva-saturation-scaling-config"]
    assert set(sat) == {"default", "llama"}
    default = SaturationEntry.model_validate(yaml.safe_load(sat["default"]))
    assert default.unknown_keys() == []
    assert default.kv_cache_threshold == CHART_VALUES["saturation"]["default"]["kvCacheThreshold"]
    assert default.queue_length_threshold == CHART_VALUES["saturation"]["default"]["queueLengthThreshold"]
    override = SaturationEntry.model_validate(yaml.safe_load(sat["llama"]))
    assert (override.model_id, override.kv_cache_threshold) == ("meta-llama/Llama-3.1-8B-Instruct", 0.7)
    stz = cms["wva-model-scale-to-zero-config"]
    for key in ("default", "llama"):
        entry = ScaleToZeroEntry.model_validate(yaml.safe_load(stz[key]))
        assert entry.unknown_keys() == []
        assert entry.retention_period is not None and parse_duration_s(entry.retention_period) > 0
    assert ScaleToZeroEntry.model_validate(yaml.safe_load(stz["default"])).enable_scale_to_zero is False


def test_saturation_configmap_name_is_configurable_and_passed_to_the_controller() -> None:
    docs = render({"saturation": {"configMapName": "my-sat"}})
    assert "my-sat" in {d["metadata"]["name"] for d in by_kind(docs, "ConfigMap")}
    env = {e["name"]: e.get("value") for e in _controller_container(docs)["env"]}
    assert env["SATURATION_CONFIG_MAP_NAME"] == "my-sat"


def test_variants_render_valid_variant_autoscalings() -> None:
    docs = render({"variants": VARIANTS, "controller": {"controllerInstance": "blue"}}, namespace="wva-system")
    vas = {d["metadata"]["name"]: d for d in by_kind(docs, "VariantAutoscaling")}
    assert set(vas) == {"llama-8b-h100", "llama-8b-a100"}
    h100 = VariantAutoscaling.model_validate(vas["llama-8b-h100"])
    assert h100.metadata.namespace == "llm"
    assert h100.metadata.labels[ACCELERATOR_LABEL] == "H100"
    assert h100.metadata.labels[CONTROLLER_INSTANCE_LABEL] == "blue"
    assert (h100.spec.variant_cost, h100.spec.max_replicas, h100.spec.min_replicas) == ("12.5", 6, None)
    a100 = VariantAutoscaling.model_validate(vas["llama-8b-a100"])
    assert a100.metadata.namespace == "wva-system"
    assert a100.spec.variant_cost == "10.0"


def test_variant_autoscaling_can_be_left_to_the_user() -> None:
    variants = [{**VARIANTS[0], "createVariantAutoscaling": False}]
    docs = render({"variants": variants, "hpa": {"enabled": True}})
    assert by_kind(docs, "VariantAutoscaling") == []
    assert len(by_kind(docs, "HorizontalPodAutoscaler")) == 1


@pytest.mark.parametrize(
    ("kube_version", "pinned", "expected"),
    [
        pytest.param("1.20.2", "", "autoscaling/v2beta2", id="k8s-1.20-auto"),
        pytest.param("1.22.0", "", "autoscaling/v2beta2", id="k8s-1.22-auto"),
        pytest.param("1.23.0", "", "autoscaling/v2", id="k8s-1.23-auto"),
        pytest.param("1.30.1", "", "autoscaling/v2", id="k8s-1.30-auto"),
        pytest.param("1.30.1", "autoscaling/v2beta2", "autoscaling/v2beta2", id="pinned"),
    ],
)
def test_hpa_api_version_follows_the_cluster(kube_version: str, pinned: str, expected: str) -> None:
    docs = render({"variants": VARIANTS, "hpa": {"enabled": True, "apiVersion": pinned}}, kube_version=kube_version)
    assert {d["apiVersion"] for d in by_kind(docs, "HorizontalPodAutoscaler")} == {expected}


def test_hpa_follows_wva_desired_replicas_with_average_value_one() -> None:
    docs = render({"variants": VARIANTS, "hpa": {"enabled": True}, "controller": {"controllerInstance": "blue"}})
    hpas = {d["metadata"]["name"]: d for d in by_kind(docs, "HorizontalPodAutoscaler")}
    h100 = hpas["llama-8b-h100"]["spec"]
    assert h100["scaleTargetRef"] == VARIANTS[0]["scaleTargetRef"]
    (metric,) = h100["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == "wva_desired_replicas"
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {
        "variant_name": "llama-8b-h100",
        "exported_namespace": "llm",
        "controller_instance": "blue",
    }
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}
    # bounds: the variant's maxReplicas, or its own hpa overrides
    assert (h100["minReplicas"], h100["maxReplicas"]) == (1, 6)
    a100 = hpas["llama-8b-a100"]["spec"]
    assert (a100["minReplicas"], a100["maxReplicas"]) == (2, 4)
    # pass-through behaviour: no second stabilisation window on top of wva-ray's
    for spec in (h100, a100):
        assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 0


def test_hpa_override_of_one_variant_does_not_leak_into_the_next() -> None:
    variants = [
        {**VARIANTS[0], "hpa": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}}},
        VARIANTS[1],
    ]
    hpas = {
        d["metadata"]["name"]: d
        for d in by_kind(render({"variants": variants, "hpa": {"enabled": True}}), "HorizontalPodAutoscaler")
    }
    assert hpas["llama-8b-h100"]["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    assert hpas["llama-8b-a100"]["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 0


def test_keda_scaled_objects_query_the_variant_gauge(tmp_path: Path) -> None:
    docs = render({"variants": VARIANTS, "keda": {"enabled": True}, "controller": {"controllerInstance": "blue"}})
    assert by_kind(docs, "HorizontalPodAutoscaler") == []
    sos = {d["metadata"]["name"]: d for d in by_kind(docs, "ScaledObject")}
    h100 = sos["llama-8b-h100"]["spec"]
    (trigger,) = h100["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    meta = trigger["metadata"]
    assert (meta["threshold"], meta["activationThreshold"]) == ("1", "0")
    assert meta["query"] == (
        'wva_desired_replicas{variant_name="llama-8b-h100",exported_namespace="llm",controller_instance="blue"}'
    )
    assert h100["maxReplicaCount"] == 6
    assert sos["llama-8b-a100"]["spec"]["maxReplicaCount"] == 3
    checked = promql_check({name: so["spec"]["triggers"][0]["metadata"]["query"] for name, so in sos.items()}, tmp_path)
    assert checked.ok, checked.describe()


def test_configmaps_can_be_left_to_the_user() -> None:
    docs = render({"saturation": {"create": False, "configMapName": "existing"}, "scaleToZero": {"create": False}})
    assert by_kind(docs, "ConfigMap") == []
    env = {e["name"]: e.get("value") for e in _controller_container(docs)["env"]}
    assert env["SATURATION_CONFIG_MAP_NAME"] == "existing"


def test_existing_service_account_and_no_rbac() -> None:
    docs = render({"serviceAccount": {"create": False, "name": "my-sa"}, "rbac": {"create": False}})
    assert by_kind(docs, "ServiceAccount") == []
    assert [d for d in docs if d["apiVersion"].startswith("rbac.authorization.k8s.io")] == []
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "my-sa"


def test_existing_service_account_needs_a_name() -> None:
    from tests.packaging.tools import helm_template

    result = helm_template({"serviceAccount": {"create": False}})
    assert not result.ok
    assert "serviceAccount.name is required when serviceAccount.create=false" in result.stderr


def test_helm_test_hook_fetches_the_gauges_through_the_service() -> None:
    docs = render()
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    service = one(docs, "Service")
    command = pod["spec"]["containers"][0]["args"][0]
    assert f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/metrics" in command
    assert "wva_build_info" in command


@pytest.mark.parametrize("values", [pytest.param(None, id="deployment"), pytest.param(RAYSERVICE, id="rayservice")])
def test_network_policy_admits_the_ports_the_service_and_probes_use(values: dict[str, Any] | None) -> None:
    docs = render({**(values or {}), "networkPolicy": {"enabled": True}})
    policy = one(docs, "NetworkPolicy")
    template = _pod_template(docs)
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    container = template["spec"]["containers"][0]
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port in one(docs, "Service")["spec"]["ports"]:
        target = port["targetPort"]
        assert by_name.get(target, target) in allowed
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe in container:
            port = container[probe]["httpGet"]["port"]
            assert by_name.get(port, port) in allowed


@pytest.mark.parametrize("values", [pytest.param(None, id="deployment"), pytest.param(RAYSERVICE, id="rayservice")])
def test_the_one_gauge_port_is_exposed_and_scraped(values: dict[str, Any] | None) -> None:
    """`wva-ray run` serves every wva_* gauge (the coordinator's decisions relayed) on WVA_METRICS_PORT."""
    docs = render({**(values or {}), "controller": {**(values or {}).get("controller", {}), "metricsPort": 9500},
                   "serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}})  # fmt: skip
    ports = {p["name"]: p["containerPort"] for p in _controller_container(docs)["ports"]}
    assert ports["wva-metrics"] == 9500
    assert 9501 not in ports.values(), "a second gauge port is declared (decisions are relayed on metricsPort)"
    env = {e["name"]: e.get("value") for e in _controller_container(docs)["env"]}
    assert env["WVA_METRICS_PORT"] == "9500"
    service_ports = {p["targetPort"]: p["port"] for p in one(docs, "Service")["spec"]["ports"]}
    assert "wva-metrics" in service_ports
    assert "metrics" in {e["port"] for e in one(docs, "ServiceMonitor")["spec"]["endpoints"]}
    assert "wva-metrics" in {e["port"] for e in one(docs, "PodMonitor")["spec"]["podMetricsEndpoints"]}


def test_health_port_must_not_collide_with_the_gauge_ports() -> None:
    from tests.packaging.tools import helm_template

    result = helm_template({"controller": {"metricsPort": 9464, "healthPort": 9464}})
    assert not result.ok
    assert "controller.healthPort (9464) must differ from controller.metricsPort (9464" in result.stderr
    assert helm_template({"controller": {"metricsPort": 8080, "healthPort": 8081}}).ok, "adjacent ports are fine"


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="defaults"),
        pytest.param({**ALL_OPTIONAL, "prometheus": {"tls": {"secretName": "ca", "clientCert": True}}}, id="all"),
        pytest.param({**RAYSERVICE, **ALL_OPTIONAL, "prometheus": {"tls": {"secretName": "ca"}}}, id="rayservice"),
    ],
)
def test_rendered_yaml_has_no_stray_whitespace(values: dict[str, Any]) -> None:
    from tests.packaging.tools import helm_template

    result = helm_template(values)
    assert result.ok, result.describe()
    bad = [f"{i}: {line!r}" for i, line in enumerate(result.stdout.splitlines(), 1) if line != line.rstrip()]
    assert bad == [], "\n".join(bad[:10])


def test_prometheus_rule_renders_the_sample_rules() -> None:
    docs = render({"prometheusRule": {"enabled": True, "labels": {"release": "kps"}}})
    rule = one(docs, "PrometheusRule")
    sample = yaml.safe_load((CHART.parent.parent / "operator/samples/prometheusrule-wva.yaml").read_text())
    assert rule["spec"] == sample["spec"]
    assert rule["metadata"]["labels"]["release"] == "kps"
    assert by_kind(render(), "PrometheusRule") == []
