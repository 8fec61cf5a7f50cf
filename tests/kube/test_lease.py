"""Leader election against the real API server with the controller's Role: one writer at a time; the other
takes over within the lease duration when the leader dies, at once when it releases."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.kube.conftest import SYSTEM_NS
from tests.kube.manifests import wait_for
from wva_ray.adapters.kube_client import KubeApi
from wva_ray.adapters.kube_lease import LeaderElector, LeaseConfig

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
    assert took_s <= LEASE_S + 4 * RETRY_S + 1, took_s
    lease = admin_api.get(follower.elector.config.path)
    assert lease["spec"]["holderIdentity"] == follower.elector.config.identity
    assert lease["spec"]["leaseTransitions"] == 1


def test_release_hands_over_at_once(candidates: tuple[Candidate, Candidate]) -> None:
    a, b = candidates
    leader, follower = wait_for(lambda: _single_leader(a, b), 10, what="exactly one leader")
    released = time.monotonic()
    leader.kill(release=True)
    wait_for(lambda: follower.elector.is_leader, LEASE_S, poll_s=0.05, what="takeover after release")
    assert time.monotonic() - released < LEASE_S - 0.5
