"""Unit tests (no cluster) of the pure parts of the Kubernetes adapter: status planning, condition merging,
selectors, GPU inventory and pod-template facts, settings, discovery and the Lease protocol on fakes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wva_ray.adapters.kube.client import KubeConflict, KubeNotFound, KubeUnavailable
from wva_ray.adapters.kube.discovery import RestMapper, UnknownKind
from wva_ray.adapters.kube.inventory import gpu_available, gpus_per_replica, parse_quantity, vllm_args
from wva_ray.adapters.kube.lease import LeaderElector, LeaseConfig
from wva_ray.adapters.kube.publish import KubePublisher
from wva_ray.adapters.kube.selectors import parse_selector, selector_from_object
from wva_ray.adapters.kube.status import heartbeat_for, plan_status
from wva_ray.api.plan import Action, Decision, PlanCondition
from wva_ray.api.va import ConditionStatus

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _decision(desired: int = 2, accelerator: str = "H100", **conds: str) -> Decision:
    return Decision(
        namespace="ns",
        name="va",
        modelID="m",
        accelerator=accelerator,
        current_replicas=1,
        desired_replicas=desired,
        action=Action.SCALE_UP,
        reason="why",
        conditions=[
            PlanCondition(type=t, status=ConditionStatus(s), reason=f"R{t}{s}", message="")
            for t, s in (conds or {"MetricsAvailable": "True"}).items()
        ],
    )


def _va(status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": "va", "namespace": "ns", "generation": generation}, "status": status or {}}


def _after(va: dict[str, Any], d: Decision, now: datetime) -> dict[str, Any]:
    change = plan_status(va, d, now, applied=True, heartbeat_s=300)
    assert change is not None
    return {**va, "status": change.status}


def test_first_status_is_written_with_all_fields() -> None:
    change = plan_status(_va(), _decision(), T0, applied=True, heartbeat_s=300)
    assert change is not None and change.semantic
    alloc = change.status["desiredOptimizedAlloc"]
    assert alloc == {
        "numReplicas": 2,
        "accelerator": "H100",
        "sinceTime": "2026-11-27T12:00:00Z",
        "lastRunTime": "2026-11-27T12:00:00Z",
    }
    (cond,) = change.status["conditions"]
    assert cond["observedGeneration"] == 1 and cond["message"] == "RMetricsAvailableTrue"  # never ""
    assert change.transitions == ()  # a first status is not a transition (no Event storm at cold start)
    bad = plan_status(_va(), _decision(TargetResolved="False"), T0, applied=True, heartbeat_s=300)
    assert bad is not None and [t.kind for t in bad.transitions] == ["TargetResolved"]  # a problem on first sight


@pytest.mark.parametrize(
    ("later", "decision", "written", "semantic"),
    [
        pytest.param(timedelta(seconds=30), _decision(), False, False, id="same-decision-no-write"),
        pytest.param(timedelta(seconds=299), _decision(), False, False, id="just-before-heartbeat"),
        pytest.param(timedelta(seconds=300), _decision(), True, False, id="heartbeat"),
        pytest.param(timedelta(seconds=30), _decision(3), True, True, id="desired-changed"),
        pytest.param(timedelta(seconds=30), _decision(MetricsAvailable="False"), True, True, id="condition-flip"),
        pytest.param(timedelta(seconds=30), _decision(accelerator=""), False, False, id="no-accelerator-keeps-alloc"),
    ],
)
def test_writes_only_on_semantic_change_or_heartbeat(
    later: timedelta, decision: Decision, written: bool, semantic: bool
) -> None:
    va = _after(_va(), _decision(), T0)
    change = plan_status(va, decision, T0 + later, applied=True, heartbeat_s=300)
    assert (change is not None) == written
    if change is not None:
        assert change.semantic == semantic
        assert change.status["desiredOptimizedAlloc"]["lastRunTime"] == (T0 + later).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_heartbeat_spread_is_stable_and_bounded() -> None:
    periods = [heartbeat_for(f"ns/va-{i}", 300) for i in range(200)]
    assert all(225 <= p <= 300 for p in periods) and len(set(periods)) > 50
    assert heartbeat_for("ns/va-1", 300) == heartbeat_for("ns/va-1", 300)


def test_transition_time_moves_only_on_flip_and_generation_is_observed() -> None:
    va = _after(_va(), _decision(), T0)
    va = _after({**va, "metadata": {**va["metadata"], "generation": 2}}, _decision(), T0 + timedelta(seconds=30))
    (cond,) = va["status"]["conditions"]
    assert (cond["lastTransitionTime"], cond["observedGeneration"]) == ("2026-11-27T12:00:00Z", 2)
    va = _after(va, _decision(MetricsAvailable="False"), T0 + timedelta(seconds=60))
    assert va["status"]["conditions"][0]["lastTransitionTime"] == "2026-11-27T12:01:00Z"


def _metrics(reason: str) -> Decision:
    cond = PlanCondition(type="MetricsAvailable", status=ConditionStatus.TRUE, reason=reason, message=reason)
    return _decision().model_copy(update={"conditions": [cond]})


def test_entering_and_leaving_metrics_partial_is_an_event_without_a_status_flip() -> None:
    va = _after(_va(), _metrics("MetricsFound"), T0)
    partial = plan_status(va, _metrics("MetricsPartial"), T0 + timedelta(seconds=30), applied=True, heartbeat_s=300)
    assert partial is not None
    assert [(t.reason, t.warning) for t in partial.transitions] == [("MetricsPartial", True)]
    va = {**va, "status": partial.status}
    assert va["status"]["conditions"][0]["lastTransitionTime"] == "2026-11-27T12:00:00Z"  # status did not flip
    same = plan_status(va, _metrics("MetricsPartial"), T0 + timedelta(seconds=60), applied=True, heartbeat_s=300)
    assert same is None  # still partial: no write, no Event
    back = plan_status(va, _metrics("MetricsFound"), T0 + timedelta(seconds=90), applied=True, heartbeat_s=300)
    assert back is not None and [(t.reason, t.warning) for t in back.transitions] == [("MetricsFound", False)]


def test_since_time_kept_while_replicas_unchanged_and_foreign_conditions_kept() -> None:
    foreign = {
        "type": "External",
        "status": "True",
        "reason": "X",
        "message": "x",
        "lastTransitionTime": "2020-01-01T00:00:00Z",
    }
    va = _after(_va({"conditions": [foreign]}), _decision(), T0)
    va = _after(va, _decision(), T0 + timedelta(seconds=400))
    assert va["status"]["desiredOptimizedAlloc"]["sinceTime"] == "2026-11-27T12:00:00Z"
    assert va["status"]["conditions"][0] == foreign
    va = _after(va, _decision(5), T0 + timedelta(seconds=430))
    assert va["status"]["desiredOptimizedAlloc"]["sinceTime"] == "2026-11-27T12:07:10Z"


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        pytest.param("app=a", {"app": "a"}, True, id="eq"),
        pytest.param("app==a,tier!=db", {"app": "a", "tier": "web"}, True, id="eq-neq"),
        pytest.param("app in (a, b),!canary", {"app": "b"}, True, id="in-notexists"),
        pytest.param("app in (a, b),!canary", {"app": "b", "canary": "1"}, False, id="in-exists-fails"),
        pytest.param("app notin (a),env", {"app": "c", "env": "x"}, True, id="notin-exists"),
        pytest.param("app=a", {}, False, id="missing"),
    ],
)
def test_selector_strings(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(selector).matches(labels) == matches


def test_selector_object_and_errors() -> None:
    sel = selector_from_object(
        {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["x"]}]}
    )
    assert sel.matches({"app": "a", "t": "x"}) and not sel.matches({"app": "a", "t": "y"})
    with pytest.raises(ValueError, match="cannot parse requirement 'a b'"):
        parse_selector("a b")


def _node(name: str, product: str | None, gpus: str, vendor: str = "nvidia.com") -> dict[str, Any]:
    labels = {f"{vendor}/gpu.product": product} if product else {}
    return {"metadata": {"name": name, "labels": labels}, "status": {"allocatable": {f"{vendor}/gpu": gpus}}}


def _pod(node: str | None, gpus: int, phase: str = "Running", vendor: str = "nvidia.com") -> dict[str, Any]:
    res = {"requests": {f"{vendor}/gpu": str(gpus)}}
    return {"spec": {"nodeName": node, "containers": [{"name": "c", "resources": res}]}, "status": {"phase": phase}}


def test_gpu_available_per_normalised_product() -> None:
    nodes = [
        _node("h1", "NVIDIA-H100-80GB-HBM3", "8"),
        _node("h2", "NVIDIA-H100-80GB-HBM3", "8"),
        _node("a1", "NVIDIA-A100-PCIE-80GB", "4"),
        _node("m1", "AMD-MI300X-192G", "8", vendor="amd.com"),
        _node("cpu", None, "0"),
    ]
    pods = [
        _pod("h1", 3),
        _pod("h2", 8),
        _pod("a1", 2, phase="Succeeded"),
        _pod(None, 4),
        _pod("m1", 1, vendor="amd.com"),
    ]
    assert gpu_available(nodes, pods) == {"H100": 5, "A100": 4, "MI300X": 7}
    assert gpu_available(nodes, pods, {"nvidia.com/gpu.product": "NVIDIA-A100-PCIE-80GB"}) == {"A100": 4}


def test_pod_template_facts() -> None:
    workload = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "x"},
                        {
                            "name": "vllm",
                            "command": ["vllm", "serve", "m", "--port", "8000"],
                            "args": ["--max-num-seqs", "64"],
                            "resources": {"limits": {"nvidia.com/gpu": "2"}},
                        },
                    ]
                }
            }
        }
    }
    assert gpus_per_replica(workload) == 2
    assert vllm_args(workload) == ["--port", "8000", "--max-num-seqs", "64"]
    assert gpus_per_replica({"spec": {}}) == 1
    assert parse_quantity("500m") == 0.5 and parse_quantity("2Ki") == 2048
    with pytest.raises(ValueError, match="'abc'"):
        parse_quantity("abc")


class FakeDiscoveryApi:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {
            "/apis": {
                "groups": [
                    {"preferredVersion": {"groupVersion": "apps/v1"}},
                    {"preferredVersion": {"groupVersion": "x.io/v1"}},
                ]
            },
            "/apis/apps/v1": {
                "resources": [
                    {"name": "deployments", "kind": "Deployment", "namespaced": True},
                    {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
                    {"name": "controllerrevisions", "kind": "ControllerRevision", "namespaced": True},
                ]
            },
            "/api/v1": {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True}]},
            "/apis/x.io/v1": {"resources": []},
        }
        self.gets: list[str] = []

    def get(self, path: str, query: Any = None) -> dict[str, Any]:
        self.gets.append(path)
        if path not in self.docs:
            raise KubeNotFound(404, "GET", path, "not found")
        return copy.deepcopy(self.docs[path])


def test_rest_mapper_resolves_scalable_kinds_and_rediscovers() -> None:
    api = FakeDiscoveryApi()
    clock = [0.0]
    mapper = RestMapper(api, rediscover_after_s=30, clock=lambda: clock[0])  # type: ignore[arg-type]
    dep = mapper.resolve(None, "Deployment")
    assert dep.scale_path("ns", "d") == "/apis/apps/v1/namespaces/ns/deployments/d/scale"
    with pytest.raises(UnknownKind, match="'ControllerRevision'"):
        mapper.resolve("apps/v1", "ControllerRevision")  # no scale subresource
    with pytest.raises(UnknownKind):
        mapper.resolve(None, "Widget")
    api.docs["/apis/x.io/v1"]["resources"] = [
        {"name": "widgets", "kind": "Widget", "namespaced": True},
        {"name": "widgets/scale", "kind": "Scale", "namespaced": True},
    ]
    with pytest.raises(UnknownKind):
        mapper.resolve(None, "Widget")  # discovery is cached: no new look within 30 s
    clock[0] = 31.0
    assert mapper.resolve(None, "Widget").plural == "widgets"  # a new CRD is found after the window


class FakeLeaseApi:
    """A Lease store with resourceVersion semantics (409 on stale writes)."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.rv = 0

    def get(self, path: str, query: Any = None) -> dict[str, Any]:
        if self.obj is None:
            raise KubeNotFound(404, "GET", path, "")
        return copy.deepcopy(self.obj)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.obj is not None:
            raise KubeConflict(409, "POST", path, "exists")
        self.rv += 1
        self.obj = {**body, "metadata": {**body["metadata"], "resourceVersion": str(self.rv)}}
        return copy.deepcopy(self.obj)

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.obj is not None
        if body["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise KubeConflict(409, "PUT", path, "stale")
        self.rv += 1
        self.obj = {**body, "metadata": {**body["metadata"], "resourceVersion": str(self.rv)}}
        return copy.deepcopy(self.obj)


def test_lease_expiry_judged_on_local_clock() -> None:
    api = FakeLeaseApi()
    clock = [0.0]
    cfg = {"lease_duration_s": 15.0, "renew_deadline_s": 10.0, "retry_period_s": 2.0}
    a = LeaderElector(api, LeaseConfig("ns", "l", "a", **cfg), monotonic=lambda: clock[0])  # type: ignore[arg-type]
    b = LeaderElector(api, LeaseConfig("ns", "l", "b", **cfg), monotonic=lambda: clock[0])  # type: ignore[arg-type]
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    clock[0] = 14.0
    assert not b.try_acquire_or_renew()  # a has not renewed but 15 s have not passed since b saw the record
    assert not a.is_leader  # ... and a, not having renewed for 14 s > renew deadline, no longer writes
    clock[0] = 15.5
    assert b.try_acquire_or_renew() and b.is_leader
    assert api.obj is not None and api.obj["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()  # the old leader sees b's fresh record


def test_lease_config_validated() -> None:
    with pytest.raises(ValueError, match="renew_deadline_s"):
        LeaseConfig("ns", "l", "a", lease_duration_s=5, renew_deadline_s=6, retry_period_s=1)


def test_a_message_that_changes_alone_waits_for_the_heartbeat() -> None:
    def ready(message: str) -> Decision:
        cond = PlanCondition(
            type="OptimizationReady", status=ConditionStatus.TRUE, reason="OptimizationSucceeded", message=message
        )
        return _decision().model_copy(update={"conditions": [cond]})

    va = _after(_va(), ready("planned 2.31 req/s"), T0)
    soon = plan_status(va, ready("planned 2.35 req/s"), T0 + timedelta(seconds=30), applied=True, heartbeat_s=300)
    assert soon is None
    beat = plan_status(va, ready("planned 2.40 req/s"), T0 + timedelta(seconds=300), applied=True, heartbeat_s=300)
    assert beat is not None and not beat.semantic
    assert beat.status["conditions"][0]["message"] == "planned 2.40 req/s"  # the heartbeat carries the latest


class _LossyApi:
    """A VA store whose next status PATCH is applied but answered with no response (a timeout after the write)."""

    def __init__(self, va: dict[str, Any]) -> None:
        self.va = {**va, "metadata": {**va["metadata"], "resourceVersion": "1"}}
        self.lose_next_answer = False
        self.events: list[str] = []

    def get(self, path: str) -> dict[str, Any]:
        return copy.deepcopy(self.va)

    def patch(self, path: str, body: dict[str, Any], content_type: str = "") -> dict[str, Any]:
        if body["metadata"]["resourceVersion"] != self.va["metadata"]["resourceVersion"]:
            raise KubeConflict(409, "PATCH", path, "stale")
        rv = str(int(self.va["metadata"]["resourceVersion"]) + 1)
        self.va = {**self.va, "status": body["status"], "metadata": {**self.va["metadata"], "resourceVersion": rv}}
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise KubeUnavailable(503, "PATCH", path, "API server unreachable: read timed out")
        return self.va

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.events.append(body["reason"])
        return body


@pytest.mark.parametrize("lost", [pytest.param(False, id="answered"), pytest.param(True, id="applied-but-no-answer")])
def test_the_events_of_a_status_write_that_landed_unanswered_are_sent_with_the_next_write(lost: bool) -> None:
    api = _LossyApi(_after(_va(), _metrics("MetricsFound"), T0))
    publisher = KubePublisher(api, heartbeat_s=300)  # type: ignore[arg-type]
    api.lose_next_answer = lost
    partial = _metrics("MetricsPartial")
    if lost:
        with pytest.raises(KubeUnavailable):
            publisher.publish([partial], T0 + timedelta(seconds=30))
        assert api.va["status"]["conditions"][0]["reason"] == "MetricsPartial" and api.events == []  # landed, unsaid
    report = publisher.publish([partial], T0 + timedelta(seconds=60))
    assert api.events == ["MetricsPartial"], report  # said once, whether the first answer came back or not
    publisher.publish([partial], T0 + timedelta(seconds=90))
    assert api.events == ["MetricsPartial"]  # and not again
