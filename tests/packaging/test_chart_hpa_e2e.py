"""The chart's own HPA and VA, end to end on the local control plane: `helm template` renders a variant's
VariantAutoscaling and its HPA (autoscaling/v2beta2 for this 1.20 API server); they are applied for real;
the product GaugeExporter publishes a decision; real Prometheus scrapes it (the controller's namespace as the
target label, as the chart's ServiceMonitor does, so the VA namespace becomes `exported_namespace`); the test
external-metrics adapter of tests/kube serves it; the real HPA controller scales the Deployment 1 -> 3.
This proves the chart's metric selector, target and behaviour work as rendered (not a hand-written HPA)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, wait_for
from tests.kube.metrics_adapter import ExternalMetricsAdapter
from tests.kube.test_hpa_e2e import exporter, metrics_api, prometheus  # noqa: F401 - fixtures re-used
from tests.packaging.tools import by_kind, render
from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.adapters.kube.client import KubeApi
from wva_ray.api.plan import Action, Decision

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

STEP_TIMEOUT_S = 90.0


def _decision(namespace: str, name: str, current: int, desired: int) -> Decision:
    return Decision(
        namespace=namespace,
        name=name,
        model_id="m1",
        accelerator="H100",
        current_replicas=current,
        desired_replicas=desired,
        action=Action.SCALE_UP if desired > current else Action.NO_CHANGE,
        reason="packaging e2e",
    )


def test_chart_rendered_hpa_follows_wva_desired_replicas(
    admin_api: KubeApi,
    fake_kubelet: FakeKubelet,
    va_crd: Path,
    namespace: str,
    exporter: tuple[GaugeExporter, int],  # noqa: F811
    metrics_api: ExternalMetricsAdapter,  # noqa: F811
) -> None:
    gauges, _ = exporter
    name = "chart-hpa"
    values = {
        "variants": [
            {
                "name": name,
                "namespace": namespace,
                "modelID": "m1",
                "accelerator": "H100",
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "maxReplicas": 5,
            }
        ],
        "hpa": {"enabled": True},
    }
    docs = render(values, kube_version="1.20.2")
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    (va,) = by_kind(docs, "VariantAutoscaling")
    assert hpa["apiVersion"] == "autoscaling/v2beta2"
    apply(admin_api, deployment(namespace, name, replicas=1))
    apply(admin_api, va)
    apply(admin_api, hpa)
    gauges.apply([_decision(namespace, name, 1, 1)])
    dep_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    hpa_path = f"/apis/autoscaling/v2beta2/namespaces/{namespace}/horizontalpodautoscalers/{name}"

    def hpa_reads(value: str) -> bool:
        status = admin_api.get(hpa_path).get("status") or {}
        current = [m.get("external", {}).get("current", {}) for m in status.get("currentMetrics") or []]
        return any(c.get("averageValue") == value for c in current)

    wait_for(lambda: hpa_reads("1"), STEP_TIMEOUT_S, poll_s=1, what="chart HPA reading wva_desired_replicas=1")
    gauges.apply([_decision(namespace, name, 1, 3)])
    wait_for(
        lambda: admin_api.get(dep_path)["spec"]["replicas"] == 3,
        STEP_TIMEOUT_S,
        poll_s=1,
        what="Deployment scaled to 3 by the chart's HPA",
    )
    assert any("variant_name" in r and "wva_desired_replicas" in r for r in metrics_api.requests)
