"""Leader election against the real API server with the controller's Role: one writer at a time; the other
takes over within the lease duration when the leader dies, at once when it releases."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.manifests import apply, variant_autoscaling, wait_for
from wva_ray.adapters.kube.client import KubeApi
from wva_ray.adapters.kube.lease import LeaderElector, LeaseConfig
from wva_ray.adapters.kube.publish import KubePublisher
from wva_ray.api.plan import Action, Decision

pytestmark = [pytest.mark.integration]

LEASE_S, RENEW_S, RETRY_S = 3.0, 2.0, 0.25


class Candidate:
    def __init__(self, api: KubeApi, lease: str, identity: str) -> None:
        self.elector = LeaderElector(api, LeaseConfig(SYSTEM_NS, lease, identity, LEASE_S, RENEW_S, RETRY_S))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.elector.run(self.stop, release_on_stop=False)

    def start(self) -> Candidate:
        self.thread.start()
        return self

    def kill(self, release: bool) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        if release:  # graceful shutdown; without it this is a crash and the Lease must expire
            self.elector.release()


@pytest.fixture
def candidates(controller_api: KubeApi, system_namespace: str) -> Iterator[tuple[Candidate, Candidate]]:
    lease = f"wva-ray-test-{uuid.uuid4().hex[:6]}"
    a = Candidate(controller_api, lease, "instance-a").start()
    b = Candidate(controller_api, lease, "instance-b").start()
    yield a, b
    for c in (a, b):
        c.kill(release=False)


def _single_leader(a: Candidate, b: Candidate) -> tuple[Candidate, Candidate] | None:
    leaders = [c for c in (a, b) if c.elector.is_leader]
    if len(leaders) != 1:
        return None
    return (a, b) if leaders[0] is a else (b, a)


def _never_two(a: Candidate, b: Candidate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not (a.elector.is_leader and b.elector.is_leader), "two writers at once"
        time.sleep(0.05)


def test_one_leader_and_takeover_after_crash(candidates: tuple[Candidate, Candidate], admin_api: KubeApi) -> None:
    a, b = candidates
    leader, follower = wait_for(lambda: _single_leader(a, b), 10, what="exactly one leader")
    _never_two(a, b, 2.0)
    assert leader.elector.is_leader and not follower.elector.is_leader
    lease = admin_api.get(leader.elector.config.path)
    assert lease["spec"]["holderIdentity"] == leader.elector.config.identity

    died = time.monotonic()
    leader.kill(release=False)  # a crash: no release, the Lease must expire
    wait_for(lambda: follower.elector.is_leader, LEASE_S + 4 * RETRY_S + 2, poll_s=0.05, what="takeover")
    took_s = time.monotonic() - died
    assert not leader.elector.is_leader  # the dead leader stopped claiming before the takeover
    print(f"takeover after a crash: {took_s:.2f} s (Lease {LEASE_S} s)")
    assert took_s <= LEASE_S + 4 * RETRY_S + 2, took_s  # the wait above already bounds it
    lease = admin_api.get(follower.elector.config.path)
    assert lease["spec"]["holderIdentity"] == follower.elector.config.identity
    assert lease["spec"]["leaseTransitions"] == 1


def test_release_hands_over_at_once(candidates: tuple[Candidate, Candidate]) -> None:
    a, b = candidates
    leader, follower = wait_for(lambda: _single_leader(a, b), 10, what="exactly one leader")
    released = time.monotonic()
    leader.kill(release=True)
    wait_for(lambda: follower.elector.is_leader, LEASE_S, poll_s=0.05, what="takeover after release")
    handover_s = time.monotonic() - released
    print(f"takeover after a release: {handover_s:.2f} s (Lease {LEASE_S} s)")
    assert handover_s < LEASE_S  # before the Lease could have expired: it was released, not timed out


def test_only_the_leader_writes_status(
    candidates: tuple[Candidate, Candidate], controller_api: KubeApi, admin_api: KubeApi, va_crd: object, namespace: str
) -> None:
    a, b = candidates
    leader, follower = wait_for(lambda: _single_leader(a, b), 10, what="exactly one leader")
    apply(admin_api, variant_autoscaling(namespace, "va-l", "t"))
    publishers = {
        c.elector.config.identity: KubePublisher(controller_api, is_leader=lambda c=c: c.elector.is_leader)
        for c in (leader, follower)
    }
    now = datetime.now(UTC)
    reports = {
        name: p.publish([_decision(namespace, "va-l", 3 if name == leader.elector.config.identity else 7)], now)
        for name, p in publishers.items()
    }
    assert reports[leader.elector.config.identity].status_writes == 1
    assert reports[follower.elector.config.identity].skipped_not_leader
    va = admin_api.get(f"/apis/llmd.ai/v1alpha1/namespaces/{namespace}/variantautoscalings/va-l")
    assert va["status"]["desiredOptimizedAlloc"]["numReplicas"] == 3


def _decision(ns: str, name: str, desired: int) -> Decision:
    return Decision(
        namespace=ns,
        name=name,
        modelID="m1",
        accelerator="H100",
        current_replicas=1,
        desired_replicas=desired,
        action=Action.SCALE_UP,
        reason="lease",
    )
