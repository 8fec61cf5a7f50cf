"""operator/: the container image recipe, the KubeRay RayService, the samples and the Grafana dashboard.

What the local kube-apiserver (1.20) serves is validated there with `kubectl apply --dry-run=server`: the VA
samples (our CRD installed), the vLLM Deployment, the ConfigMaps, the v2beta2 HPA, the v2 HPA re-labelled as
v2beta2 (1.20 has no autoscaling/v2; the fields are identical), the RayService's Service and its head pod
template as a Pod. What it cannot serve (RayService, ScaledObject, PodMonitor: no KubeRay, KEDA or Prometheus
Operator CRDs offline) is checked structurally, and every PromQL expression is parsed by promtool.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.cluster import ClusterInfo
from tests.packaging.tools import (
    CHART,
    OPERATOR,
    REPO,
    Doc,
    dry_run_server,
    kubectl,
    one,
    promql_check,
    render,
)
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.config import SaturationEntry, ScaleToZeroEntry
from wva_ray.api.va import ACCELERATOR_LABEL, VariantAutoscaling

SAMPLES = OPERATOR / "samples"
SYSTEM_NS = "workload-variant-autoscaler-system"


def _docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _vas() -> dict[str, VariantAutoscaling]:
    vas = [VariantAutoscaling.model_validate(d) for d in _docs(SAMPLES / "variantautoscaling.yaml")]
    return {va.metadata.name: va for va in vas}


def _exported_sample_names() -> set[str]:
    """Sample names the controller's exporter can produce (counter -> _total, histogram -> _bucket/_sum/_count)."""
    names: set[str] = set()
    for family in GaugeExporter().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def test_every_operator_yaml_parses() -> None:
    files = sorted(p for p in OPERATOR.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        docs = _docs(path)
        assert docs, f"{path} holds no document"


# --- server-side validation --------------------------------------------------------------------------------


@pytest.fixture
def sample_namespaces(kube_cluster: ClusterInfo, tmp_path: Path) -> None:
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("llm", SYSTEM_NS)]
    path = tmp_path / "ns.yaml"
    path.write_text(yaml.safe_dump_all(namespaces))
    result = kubectl(kube_cluster.kubeconfig, "apply", "-f", path)
    assert result.ok, result.describe()


@pytest.mark.integration
@pytest.mark.parametrize(
    "name",
    [
        "variantautoscaling.yaml",
        "vllm-deployment.yaml",
        "configmap-saturation.yaml",
        "configmap-scale-to-zero.yaml",
        "hpa-v2beta2.yaml",
    ],
)
def test_sample_passes_server_dry_run(
    kube_cluster: ClusterInfo, va_crd: Path, sample_namespaces: None, name: str, tmp_path: Path
) -> None:
    docs = _docs(SAMPLES / name)
    result = dry_run_server(kube_cluster.kubeconfig, docs, tmp_path)
    assert result.ok, result.describe()
    assert result.stdout.count("(server dry run)") == len(docs)


@pytest.mark.integration
def test_hpa_v2_sample_is_the_v2beta2_sample_and_its_fields_pass_the_server(
    kube_cluster: ClusterInfo, sample_namespaces: None, tmp_path: Path
) -> None:
    v2 = one(_docs(SAMPLES / "hpa-v2.yaml"), "HorizontalPodAutoscaler")
    v2beta2 = one(_docs(SAMPLES / "hpa-v2beta2.yaml"), "HorizontalPodAutoscaler")
    assert v2["apiVersion"] == "autoscaling/v2" and v2beta2["apiVersion"] == "autoscaling/v2beta2"
    assert {k: v for k, v in v2.items() if k != "apiVersion"} == {k: v for k, v in v2beta2.items() if k != "apiVersion"}
    result = dry_run_server(kube_cluster.kubeconfig, [{**v2, "apiVersion": "autoscaling/v2beta2"}], tmp_path)
    assert result.ok, result.describe()


@pytest.mark.integration
def test_rayservice_head_pod_and_service_pass_server_dry_run(
    kube_cluster: ClusterInfo, sample_namespaces: None, tmp_path: Path
) -> None:
    docs = _docs(OPERATOR / "kuberay" / "rayservice.yaml")
    rs = one(docs, "RayService")
    template = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ray-head-check", "namespace": rs["metadata"]["namespace"], **template["metadata"]},
        "spec": template["spec"],
    }
    result = dry_run_server(kube_cluster.kubeconfig, [pod, one(docs, "Service")], tmp_path)
    assert result.ok, result.describe()


# --- samples agree with each other -------------------------------------------------------------------------


def test_variant_autoscaling_samples_carry_the_accelerator_label() -> None:
    vas = _vas()
    assert set(vas) == {"llama-8b-h100", "llama-8b-a100"}
    assert {va.metadata.labels[ACCELERATOR_LABEL] for va in vas.values()} == {"H100", "A100"}
    assert len({(va.metadata.namespace, va.spec.model_id) for va in vas.values()}) == 1, "one model group"


@pytest.mark.parametrize("name", ["hpa-v2.yaml", "hpa-v2beta2.yaml"])
def test_hpa_samples_follow_the_sample_variant(name: str) -> None:
    hpa = one(_docs(SAMPLES / name), "HorizontalPodAutoscaler")
    va = _vas()[hpa["metadata"]["name"]]
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == va.spec.scale_target_ref.model_dump(by_alias=True, exclude_none=True)
    (metric,) = spec["metrics"]
    assert metric["external"]["metric"]["name"] == "wva_desired_replicas"
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {
        "variant_name": va.metadata.name,
        "exported_namespace": va.metadata.namespace,
    }
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}


def test_keda_sample_queries_the_sample_variant(tmp_path: Path) -> None:
    so = one(_docs(SAMPLES / "keda-scaledobject.yaml"), "ScaledObject")
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    va = _vas()[so["metadata"]["name"]]
    assert so["spec"]["scaleTargetRef"] == va.spec.scale_target_ref.model_dump(by_alias=True, exclude_none=True)
    (trigger,) = so["spec"]["triggers"]
    assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
    query = trigger["metadata"]["query"]
    assert query == (
        f'wva_desired_replicas{{variant_name="{va.metadata.name}",exported_namespace="{va.metadata.namespace}"}}'
    )
    assert trigger["metadata"]["threshold"] == "1"
    checked = promql_check({"keda": query}, tmp_path)
    assert checked.ok, checked.describe()


def test_prometheus_adapter_rule_is_upstreams_and_parses(tmp_path: Path) -> None:
    values = yaml.safe_load((SAMPLES / "prometheus-adapter-values.yaml").read_text())
    assert values["rules"]["default"] is False
    (rule,) = values["rules"]["external"]
    assert rule["resources"]["overrides"] == {
        "exported_namespace": {"resource": "namespace"},
        "variant_name": {"resource": "deployment"},
    }
    assert rule["name"]["as"] == "wva_desired_replicas"
    matchers = 'variant_name="llama-8b-h100",exported_namespace="llm"'
    exprs = {
        "seriesQuery": rule["seriesQuery"],
        "metricsQuery": rule["metricsQuery"].replace("<<.LabelMatchers>>", matchers),
    }
    assert "<<" not in exprs["metricsQuery"], "unknown adapter template variable"
    checked = promql_check(exprs, tmp_path)
    assert checked.ok, checked.describe()


def test_configmap_samples_parse_and_match_the_chart_defaults() -> None:
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    sat = one(_docs(SAMPLES / "configmap-saturation.yaml"), "ConfigMap")
    assert sat["metadata"] == {"name": "wva-saturation-scaling-config", "namespace": SYSTEM_NS}
    default = yaml.safe_load(sat["data"]["default"])
    assert default == chart_values["saturation"]["default"]
    for key, blob in sat["data"].items():
        entry = SaturationEntry.model_validate(yaml.safe_load(blob))
        assert entry.unknown_keys() == [], key
        assert (entry.model_id is None) == (key == "default"), key
    stz = one(_docs(SAMPLES / "configmap-scale-to-zero.yaml"), "ConfigMap")
    assert stz["metadata"]["name"] == "wva-model-scale-to-zero-config"
    assert yaml.safe_load(stz["data"]["default"]) == chart_values["scaleToZero"]["default"]
    for key, blob in stz["data"].items():
        assert ScaleToZeroEntry.model_validate(yaml.safe_load(blob)).unknown_keys() == [], key


def test_vllm_podmonitor_selects_the_sample_deployment_port() -> None:
    pm = one(_docs(SAMPLES / "podmonitor-vllm.yaml"), "PodMonitor")
    deployment = one(_docs(SAMPLES / "vllm-deployment.yaml"), "Deployment")
    template = deployment["spec"]["template"]
    assert pm["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert {e["port"] for e in pm["spec"]["podMetricsEndpoints"]} <= ports
    va = _vas()["llama-8b-h100"]
    assert va.spec.scale_target_ref.name == deployment["metadata"]["name"]
    args = template["spec"]["containers"][0]["args"]
    assert f"--served-model-name={va.spec.model_id}" in args, "model_name label must equal the VA's modelID"


# --- KubeRay ------------------------------------------------------------------------------------------------


def test_rayservice_sample_matches_the_chart_in_rayservice_mode() -> None:
    static = one(_docs(OPERATOR / "kuberay" / "rayservice.yaml"), "RayService")
    rendered = one(render({"controller": {"mode": "rayservice"}}), "RayService")
    s_cluster, r_cluster = static["spec"]["rayClusterConfig"], rendered["spec"]["rayClusterConfig"]
    for key in ("rayVersion", "authOptions", "enableInTreeAutoscaling", "workerGroupSpecs"):
        assert s_cluster[key] == r_cluster[key], key
    assert s_cluster["headGroupSpec"]["rayStartParams"] == r_cluster["headGroupSpec"]["rayStartParams"]
    s_app = yaml.safe_load(static["spec"]["serveConfigV2"])["applications"][0]
    r_app = yaml.safe_load(rendered["spec"]["serveConfigV2"])["applications"][0]
    assert s_app == r_app
    s_head = s_cluster["headGroupSpec"]["template"]["spec"]
    r_head = r_cluster["headGroupSpec"]["template"]["spec"]
    s_env = {e["name"] for e in s_head["containers"][0]["env"]}
    r_env = {e["name"] for e in r_head["containers"][0]["env"]}
    assert s_env <= r_env, f"static RayService sets env the chart does not: {sorted(s_env - r_env)}"
    assert {p["name"]: p["containerPort"] for p in s_head["containers"][0]["ports"]} == {
        p["name"]: p["containerPort"] for p in r_head["containers"][0]["ports"]
    }


def test_rayservice_sample_runs_as_the_operator_rbac_service_account() -> None:
    rs = one(_docs(OPERATOR / "kuberay" / "rayservice.yaml"), "RayService")
    sa = one(_docs(OPERATOR / "rbac" / "service_account.yaml"), "ServiceAccount")
    spec = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    assert rs["metadata"]["namespace"] == sa["metadata"]["namespace"]
    resources = yaml.safe_load(
        yaml.safe_load(rs["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]["resources"])
    )
    app = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]
    assert set(resources) == {app["runtime_env"]["env_vars"]["WVA_HEAD_RESOURCE"]}
    assert spec["securityContext"]["runAsNonRoot"] is True


# --- image ---------------------------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of operator/Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (OPERATOR / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instr, _, rest = stripped.partition(" ")
            out.append((instr.upper(), rest.strip()))
    return out


def test_image_is_ray_2_60_python_3_11_as_the_package_pins() -> None:
    steps = _dockerfile()
    (base,) = [rest for instr, rest in steps if instr == "ARG" and rest.startswith("RAY_IMAGE=")]
    match = re.fullmatch(r"RAY_IMAGE=rayproject/ray:(\d+)\.(\d+)\.(\d+)-py(\d)(\d+)", base)
    assert match, base
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    ray_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("ray"))
    assert f">={match[1]}.{match[2]}" in ray_pin, (base, ray_pin)
    assert pyproject["project"]["requires-python"].startswith(f">={match[4]}.{match[5]}")
    assert [rest for instr, rest in steps if instr == "FROM"] == ["${RAY_IMAGE} AS build", "${RAY_IMAGE}"]


def test_image_runs_non_root_and_starts_the_console_script() -> None:
    steps = _dockerfile()
    final = steps[max(i for i, (instr, _) in enumerate(steps) if instr == "FROM") :]
    users = [rest for instr, rest in final if instr == "USER"]
    assert users, "final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"final USER {users[-1]!r} must be a numeric non-root uid"
    entry = json.loads(next(rest for instr, rest in final if instr == "ENTRYPOINT"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry[0] in scripts
    chart_uid = yaml.safe_load((CHART / "values.yaml").read_text())["controller"]["podSecurityContext"]["runAsUser"]
    assert int(uid) == chart_uid


def test_image_build_context_holds_what_the_dockerfile_copies() -> None:
    sources = []
    for instr, rest in _dockerfile():
        if instr == "COPY" and "--from=" not in rest:
            args = [a for a in rest.split() if not a.startswith("--")]
            sources += args[:-1]
    assert sources
    allow = [
        line[1:].rstrip("/")
        for line in (OPERATOR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for src in sources:
        assert src.rstrip("/") in allow, f"COPY {src} is excluded by Dockerfile.dockerignore"
        assert (REPO / src).exists(), f"COPY {src}: not in the repository"


# --- Grafana --------------------------------------------------------------------------------------------------


def _dashboard_exprs() -> dict[str, str]:
    dash: dict[str, Any] = json.loads((OPERATOR / "grafana" / "wva-ray-dashboard.json").read_text())
    exprs: dict[str, str] = {}
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            exprs[f"{panel['title']}/{target['refId']}"] = target["expr"]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            inner = re.fullmatch(r"label_values\((.*), *\w+\)", var["definition"])
            assert inner, var["definition"]
            exprs[f"var {var['name']}"] = inner[1]
    return exprs


def test_dashboard_is_valid_and_every_query_parses(tmp_path: Path) -> None:
    dash = json.loads((OPERATOR / "grafana" / "wva-ray-dashboard.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = {k: v.replace("$namespace", ".*").replace("$variant", ".*") for k, v in _dashboard_exprs().items()}
    assert not any("$" in e for e in exprs.values()), "unsubstituted Grafana variable"
    checked = promql_check(exprs, tmp_path)
    assert checked.ok, checked.describe()


def test_dashboard_uses_only_metrics_the_controller_exports() -> None:
    exported = _exported_sample_names()
    used = {m for e in _dashboard_exprs().values() for m in re.findall(r"\bwva_[a-z_]+", e)}
    assert used, "dashboard references no wva_* metric"
    assert used <= exported, f"dashboard queries metrics nobody exports: {sorted(used - exported)}"
    decision = {"wva_desired_replicas", "wva_current_replicas", "wva_desired_ratio", "wva_replica_scaling_total"}
    assert decision <= used


def test_versions_agree_across_package_chart_image_and_samples() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    (arg,) = [rest for instr, rest in _dockerfile() if instr == "ARG" and rest.startswith("VERSION=")]
    assert arg == f"VERSION={version}"
    rs = one(_docs(OPERATOR / "kuberay" / "rayservice.yaml"), "RayService")
    image = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{version}")
    ray_version = rs["spec"]["rayClusterConfig"]["rayVersion"]
    assert re.search(rf"rayproject/ray:{re.escape(ray_version)}-py", (OPERATOR / "Dockerfile").read_text())


def test_alert_rules_pass_promtool_and_use_exported_metrics(tmp_path: Path) -> None:
    rule = one(_docs(SAMPLES / "prometheusrule-wva.yaml"), "PrometheusRule")
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    from tests.packaging.tools import run, system_tool

    checked = run([system_tool("promtool", "scripts/setup.d/10-prometheus.sh"), "check", "rules", path])
    assert checked.ok, checked.describe()
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"\bwva_[a-z_]+", e)}
    assert used and used <= _exported_sample_names(), sorted(used - _exported_sample_names())
