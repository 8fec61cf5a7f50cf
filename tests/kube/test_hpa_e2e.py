"""End to end with the real HPA: wva-ray's exported ``wva_desired_replicas`` (GaugeExporter, the product
exporter) is scraped by real Prometheus, served as an External metric by the test adapter through the
aggregated API, read by the real HPA controller (``autoscaling/v2beta2``, AverageValue 1), and the
Deployment follows 1 -> 3 -> 1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from tests.kube.metrics_adapter import ExternalMetricsAdapter
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.adapters.kube.client import KubeApi, KubeApiError
from wva_ray.api.plan import Action, Decision
from wva_ray.testing.prometheus_server import LocalPrometheus

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

STEP_TIMEOUT_S = 90.0


@pytest.fixture
def exporter() -> Iterator[tuple[GaugeExporter, int]]:
    gauges = GaugeExporter()
    port = gauges.serve(0, "127.0.0.1")
    yield gauges, port
    gauges.close()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: tuple[GaugeExporter, int]) -> Iterator[LocalPrometheus]:
    prom = LocalPrometheus(tmp_path / "prom")
    prom.workdir.mkdir(parents=True)
    # The controller's own namespace is the target's `namespace` label, as a ServiceMonitor would set it,
    # so the gauge's `namespace` label is stored as `exported_namespace` (upstream's HPA selector uses it).
    prom.write_targets([{"targets": [f"127.0.0.1:{exporter[1]}"], "labels": {"namespace": SYSTEM_NS}}])
    prom.start()
    yield prom
    prom.stop()


@pytest.fixture
def metrics_api(
    admin_api: KubeApi, prometheus: LocalPrometheus, tmp_path: Path, system_namespace: str
) -> Iterator[ExternalMetricsAdapter]:
    adapter = ExternalMetricsAdapter(prometheus.url, tmp_path).start()
    adapter.register(admin_api, system_namespace)

    def available() -> bool:
        svc = admin_api.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io")
        conds = (svc.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Available" and c["status"] == "True" for c in conds)

    wait_for(available, 60, what="APIService v1beta1.external.metrics.k8s.io Available")
    yield adapter
    adapter.stop()
    with contextlib.suppress(KubeApiError):
        admin_api.delete("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io")


def _decision(ns: str, name: str, desired: int, current: int) -> Decision:
    return Decision(
        namespace=ns,
        name=name,
        modelID="m1",
        accelerator="H100",
        current_replicas=current,
        desired_replicas=desired,
        action=Action.NO_CHANGE,
        reason="e2e",
    )


def _hpa(ns: str, name: str) -> dict[str, Any]:
    fast = {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}]}
    return {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {
                            "name": "wva_desired_replicas",
                            "selector": {"matchLabels": {"variant_name": name, "exported_namespace": ns}},
                        },
                        "target": {"type": "AverageValue", "averageValue": "1"},
                    },
                }
            ],
            # wva-ray already stabilises: the HPA passes the decision through.
            "behavior": {"scaleUp": fast, "scaleDown": fast},
        },
    }


def test_hpa_follows_wva_desired_replicas(
    admin_api: KubeApi,
    fake_kubelet: FakeKubelet,
    va_crd: object,
    namespace: str,
    exporter: tuple[GaugeExporter, int],
    metrics_api: ExternalMetricsAdapter,
) -> None:
    gauges, _ = exporter
    name = "hpa-m1"
    apply(admin_api, deployment(namespace, name, replicas=1))
    apply(admin_api, variant_autoscaling(namespace, name, name))
    gauges.apply([_decision(namespace, name, 1, 1)])
    apply(admin_api, _hpa(namespace, name))
    dep_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

    def replicas_are(n: int) -> bool:
        dep = admin_api.get(dep_path)
        return dep["spec"]["replicas"] == n and (dep.get("status") or {}).get("readyReplicas", 0) == n

    hpa_path = f"/apis/autoscaling/v2beta2/namespaces/{namespace}/horizontalpodautoscalers/{name}"

    def hpa_reads(value: str) -> bool:
        status = admin_api.get(hpa_path).get("status") or {}
        current = [m.get("external", {}).get("current", {}) for m in status.get("currentMetrics") or []]
        return any(c.get("averageValue") == value for c in current)

    wait_for(lambda: hpa_reads("1"), STEP_TIMEOUT_S, poll_s=1, what="HPA reading wva_desired_replicas=1")
    assert replicas_are(1)
    for current, desired in ((1, 3), (3, 1)):
        gauges.apply([_decision(namespace, name, desired, current)])
        wait_for(lambda d=desired: replicas_are(d), STEP_TIMEOUT_S, poll_s=1, what=f"Deployment at {desired}")
    assert any("wva_desired_replicas" in r for r in metrics_api.requests)
