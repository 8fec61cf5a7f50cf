"""The reading side against the real API server, as the controller's ServiceAccount (operator/rbac/):
snapshot content, namespace exclusion, controller-instance isolation, any kind with a scale subresource,
ConfigMaps global and namespace-local, GPU inventory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.fake_kubelet import FakeKubelet, FakeNode
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import JsonObj, KubeApi
from wva_ray.adapters.kube.cluster_state import ClusterState
from wva_ray.adapters.kube.live_snapshot import snapshot_from_cluster
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.api.snapshot import Snapshot, SnapshotConfig

pytestmark = [pytest.mark.integration]


@pytest.fixture
def reader(controller_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet) -> Iterator[KubeReader]:
    r = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS)).start()
    yield r
    r.stop()


def _ready(reader: KubeReader, ns: str, name: str, replicas: int) -> ClusterState | None:
    state = reader.read()
    targets = [t for t in state.scale_targets if (t.namespace, t.name) == (ns, name)]
    pods = [p for p in state.pods if p.namespace == ns and p.target == name and p.ready]
    if targets and targets[0].ready_replicas == replicas and len(pods) == replicas:
        return state
    return None


def test_snapshot_matches_cluster(
    reader: KubeReader, admin_api: KubeApi, fake_kubelet: FakeKubelet, namespace: str, system_objects: list[JsonObj]
) -> None:
    fake_kubelet.register(FakeNode("gpu-l40s-0", "NVIDIA-L40S-48GB", 4))
    apply(admin_api, deployment(namespace, "m1-l40s", replicas=2, gpus=1, product="NVIDIA-L40S-48GB"))
    apply(admin_api, variant_autoscaling(namespace, "m1-l40s", "m1-l40s", accelerator="L40S", variantCost="5.5"))
    sat = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wva-saturation-scaling-config"}}
    global_sat = {**sat, "metadata": {**sat["metadata"], "namespace": SYSTEM_NS}}
    system_objects.append(apply(admin_api, {**global_sat, "data": {"default": "kvCacheThreshold: 0.7\n"}}))
    apply(
        admin_api,
        {
            **sat,
            "metadata": {**sat["metadata"], "namespace": namespace},
            "data": {"default": "queueLengthThreshold: 9\n"},
        },
    )

    state = wait_for(lambda: _ready(reader, namespace, "m1-l40s", 2), 60, what="2 ready replicas in the snapshot")
    snap = state.snapshot(datetime.now(UTC))

    vas = [va for va in snap.variant_autoscalings if va.metadata.namespace == namespace]
    assert [(va.metadata.name, va.spec.model_id, va.spec.variant_cost) for va in vas] == [("m1-l40s", "m1", "5.5")]
    (target,) = [t for t in snap.scale_targets if t.namespace == namespace]
    assert (target.kind, target.api_version, target.spec_replicas, target.status_replicas) == (
        "Deployment",
        "apps/v1",
        2,
        2,
    )
    assert target.gpus_per_replica == 1
    assert target.vllm_args == ["--model", "m1-l40s", "--max-num-seqs", "256"]
    assert target.node_selector == {"nvidia.com/gpu.product": "NVIDIA-L40S-48GB"}
    live = admin_api.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": "app=m1-l40s"})["items"]
    assert sorted(p.name for p in snap.pods if p.namespace == namespace) == sorted(p["metadata"]["name"] for p in live)
    assert snap.gpu_available is not None and snap.gpu_available["L40S"] == 2  # 4 allocatable - 2 bound
    assert snap.config.saturation["default"] == "kvCacheThreshold: 0.7\n"
    assert snap.config.namespaces[namespace].saturation["default"] == "queueLengthThreshold: 9\n"
    # the snapshot is the documented wire format: it round-trips through JSON
    assert Snapshot.model_validate_json(snap.model_dump_json(by_alias=True)) == snap


def test_gpu_inventory_counts_all_pods_on_node(
    reader: KubeReader, admin_api: KubeApi, fake_kubelet: FakeKubelet, namespace: str
) -> None:
    fake_kubelet.register(FakeNode("gpu-mi300-0", "AMD-MI300X-192G", 8, vendor="amd.com"))
    other = deployment(namespace, "not-ours", replicas=3, gpus=2)
    container = other["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"amd.com/gpu": "2"}, "limits": {"amd.com/gpu": "2"}}
    other["spec"]["template"]["spec"]["nodeSelector"] = {"amd.com/gpu.product": "AMD-MI300X-192G"}
    apply(admin_api, other)

    def free() -> float | None:
        gpus = reader.read().gpu_available or {}
        return gpus.get("MI300X") if gpus.get("MI300X") == 2 else None

    wait_for(free, 60, what="MI300X free == 8 - 3 x 2 (pods of no VA count too)")


def test_excluded_namespace_and_instance_label(
    controller_api: KubeApi, admin_api: KubeApi, va_crd: object, namespace: str
) -> None:
    excluded = f"{namespace}-x"
    apply(
        admin_api,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": excluded, "annotations": {"wva.llmd.ai/exclude": "true"}},
        },
    )
    try:
        apply(admin_api, variant_autoscaling(excluded, "hidden", "t"))
        apply(admin_api, variant_autoscaling(namespace, "plain", "t"))
        apply(
            admin_api, variant_autoscaling(namespace, "blue", "t", labels={"wva.llmd.ai/controller-instance": "blue"})
        )
        every = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS)).start()
        blue = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS, controller_instance="blue")).start()
        try:

            def names(r: KubeReader) -> list[str]:
                return sorted(
                    va.key for va in r.read().variant_autoscalings if va.metadata.namespace in (namespace, excluded)
                )

            wait_for(lambda: names(every) == [f"{namespace}/blue", f"{namespace}/plain"], 20, what="all but excluded")
            wait_for(lambda: names(blue) == [f"{namespace}/blue"], 20, what="only instance blue")
        finally:
            every.stop()
            blue.stop()
    finally:
        admin_api.delete(f"/api/v1/namespaces/{excluded}")


def test_watch_namespace_limits_reads(
    controller_api: KubeApi, admin_api: KubeApi, va_crd: object, namespace: str
) -> None:
    apply(admin_api, variant_autoscaling(namespace, "inside", "t"))
    apply(admin_api, variant_autoscaling("default", f"outside-{namespace}", "t"))
    r = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS, watch_namespace=namespace)).start()
    try:
        wait_for(lambda: [va.key for va in r.read().variant_autoscalings] == [f"{namespace}/inside"], 20)
    finally:
        r.stop()
        admin_api.delete(f"/apis/llmd.ai/v1alpha1/namespaces/default/variantautoscalings/outside-{namespace}")


def test_statefulset_target_through_scale_subresource(reader: KubeReader, admin_api: KubeApi, namespace: str) -> None:
    dep = deployment(namespace, "sts", replicas=2, gpus=2)
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "sts", "namespace": namespace},
        "spec": {**dep["spec"], "serviceName": "sts", "podManagementPolicy": "Parallel"},
    }
    apply(admin_api, sts)
    apply(admin_api, variant_autoscaling(namespace, "va-sts", "sts", kind="StatefulSet"))
    state = wait_for(lambda: _ready(reader, namespace, "sts", 2), 60, what="StatefulSet resolved with 2 ready")
    (target,) = [t for t in state.scale_targets if t.namespace == namespace]
    assert (target.kind, target.gpus_per_replica) == ("StatefulSet", 2)
    assert state.targets[f"{namespace}/va-sts"].scale_path.endswith(f"/namespaces/{namespace}/statefulsets/sts/scale")


def test_unknown_kind_is_unresolved_not_fatal(reader: KubeReader, admin_api: KubeApi, namespace: str) -> None:
    apply(admin_api, variant_autoscaling(namespace, "va-odd", "x", kind="NoSuchKind"))
    apply(admin_api, variant_autoscaling(namespace, "va-missing", "absent"))

    def both_unresolved() -> ClusterState | None:
        s = reader.read()
        return s if {f"{namespace}/va-odd", f"{namespace}/va-missing"} <= s.target_errors.keys() else None

    state = wait_for(both_unresolved, 20, what="both VAs unresolved")
    assert "NoSuchKind" in state.target_errors[f"{namespace}/va-odd"]
    assert "not found" in state.target_errors[f"{namespace}/va-missing"]
    assert {f"{namespace}/va-odd", f"{namespace}/va-missing"} <= {va.key for va in state.variant_autoscalings}


def test_snapshot_from_cluster_one_shot(
    kube_cluster: object, admin_api: KubeApi, va_crd: object, namespace: str, controller_token: str
) -> None:
    from tests.kube.cluster import ClusterInfo

    assert isinstance(kube_cluster, ClusterInfo)
    apply(admin_api, variant_autoscaling(namespace, "one", "t"))
    snap = asyncio.run(
        snapshot_from_cluster(
            datetime.now(UTC),
            KubeSettings(kubeconfig=str(kube_cluster.kubeconfig), pod_namespace=SYSTEM_NS, watch_namespace=namespace),
        )
    )
    assert [va.key for va in snap.variant_autoscalings] == [f"{namespace}/one"]
    assert snap.metrics == []


def test_service_classes_and_slo_profiles_are_read_from_the_system_namespace(
    reader: KubeReader, admin_api: KubeApi, namespace: str, system_objects: list[JsonObj]
) -> None:
    gold = "name: gold\npriority: 1\ndata:\n- model: m1\n  slo-tpot: 30\n  slo-ttft: 500\n"
    profile = (
        "modelID: m1\naccelerator: L40S\nalphaMs: 20\nbetaMs: 0.04\ngammaMsPer1kKv: 0.1\nprefillTokensPerS: 9000\n"
    )
    for name, data in (("service-classes-config", {"gold": gold}), ("wva-slo-profiles", {"m1-l40s": profile})):
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": SYSTEM_NS}}
        system_objects.append(apply(admin_api, {**doc, "data": data}))

    def seen() -> Snapshot | None:
        snap = reader.read().snapshot(datetime.now(UTC))
        return snap if snap.config.service_classes and snap.config.slo_profiles else None

    snap = wait_for(seen, 30, what="service classes and profiles in the snapshot")
    assert snap.config.service_classes == {"gold": gold}
    assert snap.config.slo_profiles == {"m1-l40s": profile}


def test_an_entry_edited_invalid_is_kept_at_its_last_valid_version(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    """The reader remembers each entry's last valid version across reads: while the ConfigMap holds an invalid one
    the snapshot carries the last valid one and a note (ConfigMap, key, since when, field and value); the fix
    applies on the next read; a reader that never saw it valid (a restarted controller) passes it on as read."""
    name = "wva-saturation-scaling-config"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
    good, bad, fixed = "kvCacheThreshold: 0.7\n", "kvCacheThreshold: 7.5\n", "kvCacheThreshold: 0.9\n"

    def read_when(value: str, kept: bool) -> SnapshotConfig | None:
        """The config once the reader's cache holds `value` (kept or not) for the entry."""
        state = reader.read()
        local = state.config.namespaces.get(namespace)
        shown = local.saturation.get("default") if local else None
        noted = any(f".{namespace}." in n for n in state.config.kept_entries)
        return state.config if (shown, noted) == (good if kept else value, kept) else None

    apply(admin_api, {**cm, "data": {"default": good}})
    wait_for(lambda: read_when(good, kept=False), 30, what="the valid entry read")
    apply(admin_api, {**cm, "data": {"default": bad}})
    config = wait_for(lambda: read_when(bad, kept=True), 30, what="the last valid entry kept")
    (note,) = config.kept_entries
    assert note.startswith(
        f"config.namespaces.{namespace}.saturation.default: kept the last valid entry of {namespace}/{name}.default"
        " since "
    ) and note.endswith(": kvCacheThreshold must be in [0,1], got 7.5"), note
    assert wait_for(lambda: read_when(bad, kept=True), 5).kept_entries == [note]  # the same note while it lasts

    fresh = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS)).start()
    try:  # nothing remembered: as read (core.config ignores it and the built-in defaults apply, as before)
        assert fresh.read().config.namespaces[namespace].saturation["default"] == bad
        assert not fresh.read().config.kept_entries
    finally:
        fresh.stop()

    apply(admin_api, {**cm, "data": {"default": fixed}})
    wait_for(lambda: read_when(fixed, kept=False), 30, what="the fixed entry read, nothing kept")
