"""The writing side against the real API server, as the controller's ServiceAccount: status only on semantic
change (+ heartbeat), conditions with correct lastTransitionTime/observedGeneration, 409 re-read and retry
with nothing lost, Events on transitions only, target deleted/recreated, two VAs on one target, direct
scaling and scale-from-zero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.cycle import pod_metrics_for, run_cycle
from tests.kube.fake_kubelet import FakeKubelet
from tests.kube.manifests import apply, deployment, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import KubeApi
from wva_ray.adapters.kube.cluster_state import ClusterState
from wva_ray.adapters.kube.publish import ActuationMode, KubePublisher, va_path
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.api.plan import Action, Decision, PlanCondition
from wva_ray.api.va import ConditionStatus

pytestmark = [pytest.mark.integration]


@pytest.fixture
def reader(controller_api: KubeApi, va_crd: object, fake_kubelet: FakeKubelet, namespace: str) -> Iterator[KubeReader]:
    r = KubeReader(controller_api, KubeSettings(pod_namespace=SYSTEM_NS, watch_namespace=namespace)).start()
    yield r
    r.stop()


def _publisher(api: KubeApi, reader: KubeReader, mode: ActuationMode = ActuationMode.HPA) -> KubePublisher:
    return KubePublisher(api, lookup=reader.va_object, heartbeat_s=300, mode=mode, identity="test")


def _ready(reader: KubeReader, ns: str, name: str, replicas: int) -> ClusterState | None:
    state = reader.read()
    targets = [t for t in state.scale_targets if (t.namespace, t.name) == (ns, name)]
    pods = [p for p in state.pods if p.namespace == ns and p.target == name and p.ready]
    if targets and targets[0].ready_replicas == replicas and targets[0].spec_replicas == replicas:
        return state if len(pods) == replicas else None
    return None


def _conditions(va: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (va.get("status") or {}).get("conditions") or []}


def _events(api: KubeApi, ns: str, name: str) -> list[dict[str, Any]]:
    items = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    return [e for e in items if e["involvedObject"].get("name") == name and e["source"].get("component") == "wva-ray"]


def _cached_rv(reader: KubeReader, ns: str, name: str, rv: str) -> bool:
    obj = reader.va_object(ns, name)
    return obj is not None and obj["metadata"]["resourceVersion"] == rv


def test_status_written_on_change_only_with_heartbeat(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    apply(admin_api, deployment(namespace, "m1", replicas=1))
    apply(admin_api, variant_autoscaling(namespace, "m1", "m1"))
    state = wait_for(lambda: _ready(reader, namespace, "m1", 1), 60, what="target ready")
    pub = _publisher(controller_api, reader)
    t0 = datetime.now(UTC).replace(microsecond=0)
    rows = pod_metrics_for(state, namespace, "m1", kv=0.5, queue=0)  # steady: neither saturated nor idle

    _, plan, report = run_cycle(reader, pub, rows, t0)
    assert report.status_writes == 1
    va = admin_api.get(va_path(namespace, "m1"))
    (decision,) = plan.decisions
    alloc = va["status"]["desiredOptimizedAlloc"]
    assert (alloc["numReplicas"], alloc["accelerator"]) == (decision.desired_replicas, "H100")
    assert va["status"]["actuation"] == {"applied": True}
    conds = _conditions(va)
    assert conds["TargetResolved"]["status"] == "True"
    assert conds["MetricsAvailable"]["status"] == "True"
    assert all(c["observedGeneration"] == va["metadata"]["generation"] for c in conds.values())
    first_events = _events(admin_api, namespace, "m1")
    assert first_events == [], "a first status is not a transition"
    wait_for(lambda: _cached_rv(reader, namespace, "m1", va["metadata"]["resourceVersion"]), 10)

    # same input, 60 s later: nothing is written, no new events
    _, plan2, report = run_cycle(reader, pub, rows, t0 + timedelta(seconds=60))
    assert plan2.decisions[0].desired_replicas == decision.desired_replicas
    assert (report.status_writes, report.events) == (0, 0)
    assert admin_api.get(va_path(namespace, "m1"))["metadata"]["resourceVersion"] == va["metadata"]["resourceVersion"]

    # after the heartbeat period: lastRunTime only; transition times unchanged
    _, _, report = run_cycle(reader, pub, rows, t0 + timedelta(seconds=60 + 301))
    assert (report.status_writes, report.events) == (1, 0)
    after = admin_api.get(va_path(namespace, "m1"))
    assert after["status"]["desiredOptimizedAlloc"]["lastRunTime"] != alloc["lastRunTime"]
    assert {k: c["lastTransitionTime"] for k, c in _conditions(after).items()} == {
        k: c["lastTransitionTime"] for k, c in conds.items()
    }
    assert len(_events(admin_api, namespace, "m1")) == len(first_events)

    # a spec change bumps generation: observedGeneration follows (a semantic change)
    admin_api.patch(va_path(namespace, "m1"), {"spec": {"variantCost": "11.0"}})
    wait_for(lambda: (reader.va_object(namespace, "m1") or {}).get("metadata", {}).get("generation") == 2, 10)
    _, _, report = run_cycle(reader, pub, rows, t0 + timedelta(seconds=380))
    assert report.status_writes == 1
    assert {c["observedGeneration"] for c in _conditions(admin_api.get(va_path(namespace, "m1"))).values()} == {2}


def _decision(ns: str, name: str, desired: int, cond_status: str = "True") -> Decision:
    return Decision(
        namespace=ns,
        name=name,
        modelID="m1",
        accelerator="H100",
        current_replicas=1,
        desired_replicas=desired,
        action=Action.SCALE_UP if desired > 1 else Action.NO_CHANGE,
        reason="test",
        conditions=[PlanCondition(type="MetricsAvailable", status=ConditionStatus(cond_status), reason="MetricsFound")],
    )


def test_conflict_is_reread_and_retried_nothing_lost(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    apply(admin_api, variant_autoscaling(namespace, "va-c", "t"))
    stale = wait_for(lambda: reader.va_object(namespace, "va-c"), 10, what="VA cached")
    # someone else writes in between: a label on the object and a foreign condition in status
    admin_api.patch(va_path(namespace, "va-c"), {"metadata": {"labels": {"team": "x"}}})
    foreign = {
        "type": "External",
        "status": "True",
        "reason": "Other",
        "message": "set by someone else",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    admin_api.patch(f"{va_path(namespace, 'va-c')}/status", {"status": {"conditions": [foreign]}})

    pub = KubePublisher(controller_api, lookup=lambda ns, n: stale, heartbeat_s=300)
    result = pub.write_status(_decision(namespace, "va-c", 4), datetime.now(UTC))
    assert result.written and result.attempts == 2  # first patch hit 409 on the stale resourceVersion

    va = admin_api.get(va_path(namespace, "va-c"))
    assert va["status"]["desiredOptimizedAlloc"]["numReplicas"] == 4
    assert va["metadata"]["labels"]["team"] == "x"
    assert _conditions(va)["External"] == foreign
    assert _conditions(va)["MetricsAvailable"]["status"] == "True"


def test_condition_flip_sets_transition_time_and_one_event(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    apply(admin_api, variant_autoscaling(namespace, "va-f", "t"))
    wait_for(lambda: reader.va_object(namespace, "va-f"), 10)
    pub = KubePublisher(controller_api, heartbeat_s=300)
    t0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    pub.publish([_decision(namespace, "va-f", 2)], t0)
    n_events = len(_events(admin_api, namespace, "va-f"))
    pub.publish([_decision(namespace, "va-f", 2, "False")], t0 + timedelta(seconds=30))
    cond = _conditions(admin_api.get(va_path(namespace, "va-f")))["MetricsAvailable"]
    assert (cond["status"], cond["lastTransitionTime"]) == ("False", "2026-11-27T12:00:30Z")
    events = _events(admin_api, namespace, "va-f")
    assert len(events) == n_events + 1
    assert any(e["type"] == "Warning" and "MetricsAvailable: True -> False" in e["message"] for e in events)
    pub.publish([_decision(namespace, "va-f", 2, "False")], t0 + timedelta(seconds=60))
    assert len(_events(admin_api, namespace, "va-f")) == n_events + 1


def test_deployment_deleted_and_recreated(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    apply(admin_api, deployment(namespace, "m2", replicas=1))
    apply(admin_api, variant_autoscaling(namespace, "m2", "m2"))
    state = wait_for(lambda: _ready(reader, namespace, "m2", 1), 60, what="target ready")
    pub = _publisher(controller_api, reader, ActuationMode.DIRECT)
    hot = pod_metrics_for(state, namespace, "m1", kv=0.95, queue=10)
    run_cycle(reader, pub, hot)
    resolved = _conditions(admin_api.get(va_path(namespace, "m2")))["TargetResolved"]
    assert resolved["status"] == "True"

    admin_api.delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/m2")
    wait_for(lambda: f"{namespace}/m2" in reader.read().target_errors, 20, what="target gone from the cache")
    _, plan, _ = run_cycle(reader, pub)
    gone = _conditions(admin_api.get(va_path(namespace, "m2")))["TargetResolved"]
    assert (gone["status"], gone["reason"]) == ("False", "TargetNotFound")

    apply(admin_api, deployment(namespace, "m2", replicas=1))
    state = wait_for(lambda: _ready(reader, namespace, "m2", 1), 60, what="target back")
    hot = pod_metrics_for(state, namespace, "m1", kv=0.95, queue=10)
    _, plan, report = run_cycle(reader, pub, hot)
    back = _conditions(admin_api.get(va_path(namespace, "m2")))["TargetResolved"]
    assert (back["status"], back["reason"]) == ("True", "TargetFound")
    assert back["lastTransitionTime"] >= gone["lastTransitionTime"]
    # scaling resumes: the hot variant is scaled up through the scale subresource (direct mode)
    (decision,) = plan.decisions
    assert decision.desired_replicas > 1, decision
    assert report.scale_writes == 1
    spec = admin_api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/m2/scale")["spec"]
    assert spec["replicas"] == decision.desired_replicas


def test_two_vas_on_one_target_conflict_on_both(
    reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str
) -> None:
    apply(admin_api, deployment(namespace, "shared", replicas=1))
    apply(admin_api, variant_autoscaling(namespace, "va-a", "shared"))
    apply(admin_api, variant_autoscaling(namespace, "va-b", "shared"))
    state = wait_for(lambda: _ready(reader, namespace, "shared", 1), 60, what="target ready")
    wait_for(lambda: len(reader.read().variant_autoscalings) == 2, 10)
    pub = _publisher(controller_api, reader, ActuationMode.DIRECT)
    hot = pod_metrics_for(state, namespace, "m1", kv=0.95, queue=10)
    _, _, report = run_cycle(reader, pub, hot)
    for name in ("va-a", "va-b"):
        cond = _conditions(admin_api.get(va_path(namespace, name)))["TargetConflict"]
        assert cond["status"] == "True", cond
    assert report.scale_writes == 0  # neither is acted on
    assert admin_api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/shared/scale")["spec"]["replicas"] == 1


def test_scale_from_zero(reader: KubeReader, controller_api: KubeApi, admin_api: KubeApi, namespace: str) -> None:
    apply(admin_api, deployment(namespace, "cold", replicas=0))
    apply(admin_api, variant_autoscaling(namespace, "cold", "cold"))

    def resolved() -> ClusterState | None:
        s = reader.read()
        return s if f"{namespace}/cold" in s.targets else None

    state = wait_for(resolved, 30, what="target resolved")
    pub = _publisher(controller_api, reader, ActuationMode.DIRECT)
    assert pub.scale_from_zero(state.targets[f"{namespace}/cold"])
    wait_for(lambda: _ready(reader, namespace, "cold", 1), 60, what="scaled from zero to one ready replica")
    state = reader.read()
    assert not pub.scale_from_zero(state.targets[f"{namespace}/cold"])  # not at zero any more: no-op
