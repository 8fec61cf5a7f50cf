"""crds/ against the real API server: upstream-valid VAs accepted (with defaults), invalid ones rejected (422),
status writes never touch spec."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kube.manifests import variant_autoscaling
from wva_ray.adapters.kube.client import KubeApi, KubeInvalid

pytestmark = [pytest.mark.integration]

VAS = "/apis/llmd.ai/v1alpha1/namespaces/{ns}/variantautoscalings"


def _upstream_minimal(ns: str, name: str) -> dict[str, Any]:
    """The shape of upstream's config/samples VA: only the required fields and the accelerator label."""
    return {
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": ns, "labels": {"inference.optimization/acceleratorName": "H100"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "vllm-h100"}, "modelID": "Qwen/Qwen3-0.6B"},
    }


def test_upstream_valid_va_accepted_with_defaults(admin_api: KubeApi, va_crd: object, namespace: str) -> None:
    created = admin_api.post(VAS.format(ns=namespace), _upstream_minimal(namespace, "va-min"))
    assert created["spec"]["variantCost"] == "10.0"
    full = _upstream_minimal(namespace, "va-full")
    full["spec"].update(variantCost="12.5")
    full["spec"]["scaleTargetRef"]["apiVersion"] = "apps/v1"
    assert admin_api.post(VAS.format(ns=namespace), full)["spec"]["variantCost"] == "12.5"
    listed = admin_api.get(VAS.format(ns=namespace))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["va-full", "va-min"]


def _mutate(path: tuple[str, ...], value: object) -> Any:
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc

    return apply


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(_mutate(("spec", "modelID"), _DELETE), "spec.modelID", id="missing-modelID"),
        pytest.param(_mutate(("spec", "modelID"), ""), "spec.modelID", id="empty-modelID"),
        pytest.param(_mutate(("spec", "scaleTargetRef"), _DELETE), "spec.scaleTargetRef", id="missing-target"),
        pytest.param(
            _mutate(("spec", "scaleTargetRef", "kind"), _DELETE), "spec.scaleTargetRef.kind", id="missing-kind"
        ),
        pytest.param(_mutate(("spec", "variantCost"), "ten"), "spec.variantCost", id="cost-not-a-number"),
        pytest.param(_mutate(("spec", "variantCost"), "-1.0"), "spec.variantCost", id="cost-negative"),
    ],
)
def test_invalid_va_rejected_422(admin_api: KubeApi, va_crd: object, namespace: str, mutate: Any, field: str) -> None:
    doc = mutate(_upstream_minimal(namespace, "bad"))
    with pytest.raises(KubeInvalid) as err:
        admin_api.post(VAS.format(ns=namespace), doc)
    assert err.value.status == 422
    assert field in err.value.message


def test_status_write_never_touches_spec(admin_api: KubeApi, va_crd: object, namespace: str) -> None:
    created = admin_api.post(VAS.format(ns=namespace), variant_autoscaling(namespace, "va-s", "t"))
    path = f"{VAS.format(ns=namespace)}/va-s"
    body = {
        "spec": {"modelID": "hijacked"},
        "status": {"desiredOptimizedAlloc": {"numReplicas": 3, "accelerator": "H100"}},
    }
    after = admin_api.patch(f"{path}/status", body)
    assert after["spec"] == created["spec"]
    assert after["metadata"]["generation"] == created["metadata"]["generation"]
    assert after["status"]["desiredOptimizedAlloc"]["numReplicas"] == 3
    # and a status field sent to the main resource is ignored
    after_main = admin_api.patch(path, {"status": {"desiredOptimizedAlloc": {"numReplicas": 9, "accelerator": "H100"}}})
    assert after_main["status"]["desiredOptimizedAlloc"]["numReplicas"] == 3


def test_status_schema_enforced(admin_api: KubeApi, va_crd: object, namespace: str) -> None:
    admin_api.post(VAS.format(ns=namespace), variant_autoscaling(namespace, "va-v", "t"))
    path = f"{VAS.format(ns=namespace)}/va-v/status"
    with pytest.raises(KubeInvalid):
        admin_api.patch(path, {"status": {"desiredOptimizedAlloc": {"numReplicas": -1, "accelerator": "H100"}}})
    with pytest.raises(KubeInvalid):
        admin_api.patch(path, {"status": {"desiredOptimizedAlloc": {"numReplicas": 1, "accelerator": "H"}}})


def test_empty_strings_stay_strings(admin_api: KubeApi, va_crd: object, namespace: str) -> None:
    """Regression for the local build (kubernetes#99804: Go >= 1.16 read "" in custom resources as null)."""
    doc = _upstream_minimal(namespace, "va-empty")
    doc["spec"]["scaleTargetRef"]["apiVersion"] = ""
    created = admin_api.post(VAS.format(ns=namespace), doc)
    assert created["spec"]["scaleTargetRef"]["apiVersion"] == ""
