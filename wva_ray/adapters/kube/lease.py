"""Leader election with a ``coordination.k8s.io/v1`` Lease (does I/O; blocking, run on a thread).

Same protocol as client-go's leaderelection: the holder renews ``spec.renewTime`` every ``retry_period_s``;
a candidate takes the Lease over when it has not seen the record change for ``lease_duration_s`` (judged on
its own monotonic clock, so clock skew between instances does not matter); every write carries the
resourceVersion, so two candidates can never both win (the loser gets 409). A leader that cannot renew
within ``renew_deadline_s`` stops considering itself leader before anyone else may take over.
Only the leader writes (status, scale, Events); ``is_leader`` is what the publish step checks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError, KubeConflict, KubeNotFound
from wva_ray.adapters.kube.events import event_body, post_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                f"lease timings must satisfy retry_period_s ({self.retry_period_s}) < renew_deadline_s "
                f"({self.renew_deadline_s}) < lease_duration_s ({self.lease_duration_s})"
            )

    @property
    def path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{self.name}"


def micro_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate. ``try_acquire_or_renew`` is one step; ``run`` loops until stopped."""

    def __init__(
        self,
        api: KubeApi,
        config: LeaseConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.config = config
        self._monotonic = monotonic
        self._wall = wall
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = float("-inf")
        self._last_renew = float("-inf")
        self._leader = False
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        """Leader and renewed within the renew deadline (checked on every call)."""
        with self._lock:
            return self._leader and self._monotonic() - self._last_renew < self.config.renew_deadline_s

    def _record(self, now_wall: datetime, acquire_time: str, transitions: int) -> JsonObj:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, round(self.config.lease_duration_s)),
            "acquireTime": acquire_time,
            "renewTime": micro_time(now_wall),
            "leaseTransitions": transitions,
        }

    def _won(self, now: float) -> bool:
        with self._lock:
            became = not self._leader
            if became:
                log.info("lease %s acquired by %s", self.config.name, self.config.identity)
            self._leader = True
            self._last_renew = now
        if became:
            self._event(f"{self.config.identity} became leader")
        return True

    def _event(self, message: str) -> None:
        """A `LeaderElection` Event on the Lease (best effort, as client-go's leader election records one)."""
        cfg = self.config
        involved = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "name": cfg.name,
            "namespace": cfg.namespace,
        }
        body = event_body(involved, "LeaderElection", message, warning=False, identity=cfg.identity, now=self._wall())
        error = post_event(self.api, body)
        if error:
            log.warning("lease %s: LeaderElection event not recorded: %s", cfg.name, error)

    def _not_leader(self) -> bool:
        with self._lock:
            if self._leader:
                log.warning("lease %s lost by %s", self.config.name, self.config.identity)
            self._leader = False
        return False

    def try_acquire_or_renew(self) -> bool:
        """One election step; True when this candidate holds the Lease afterwards."""
        cfg = self.config
        now, now_wall = self._monotonic(), self._wall()
        try:
            lease = self.api.get(cfg.path)
        except KubeNotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": self._record(now_wall, micro_time(now_wall), 0),
            }
            try:
                self.api.post(cfg.path.rsplit("/", 1)[0], body)
            except KubeApiError:
                return self._not_leader()
            return self._won(now)
        except KubeApiError as exc:
            log.warning("lease %s: read failed: %s", cfg.name, exc)
            return self._still_leader(now)
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        observed = (holder, str(spec.get("renewTime") or ""))
        if observed != self._observed:
            self._observed, self._observed_at = observed, now
        duration_s = float(spec.get("leaseDurationSeconds") or cfg.lease_duration_s)
        if holder and holder != cfg.identity and now - self._observed_at < duration_s:
            return self._not_leader()
        mine = holder == cfg.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine or not holder else 1)
        acquire = str(spec.get("acquireTime")) if mine and spec.get("acquireTime") else micro_time(now_wall)
        lease["spec"] = self._record(now_wall, acquire, transitions)
        try:
            updated = self.api.put(cfg.path, lease)
        except KubeConflict:
            return self._not_leader()
        except KubeApiError as exc:
            log.warning("lease %s: renew failed: %s", cfg.name, exc)
            return self._still_leader(now)
        spec = updated.get("spec") or {}
        self._observed, self._observed_at = (cfg.identity, str(spec.get("renewTime") or "")), now
        return self._won(now)

    def _still_leader(self, now: float) -> bool:
        with self._lock:
            if self._leader and now - self._last_renew < self.config.renew_deadline_s:
                return True
        return self._not_leader()

    def release(self) -> None:
        """Give the Lease up (graceful shutdown) so another candidate takes over at once."""
        if not self.is_leader:
            return
        try:
            lease = self.api.get(self.config.path)
            if (lease.get("spec") or {}).get("holderIdentity") == self.config.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["leaseDurationSeconds"] = 1
                self.api.put(self.config.path, lease)
        except KubeApiError as exc:
            log.warning("lease %s: release failed: %s", self.config.name, exc)
        self._not_leader()

    def run(self, stop: threading.Event, release_on_stop: bool = True) -> None:
        """Loop every ``retry_period_s`` until ``stop`` is set (blocking: run it on a thread)."""
        while not stop.is_set():
            try:
                self.try_acquire_or_renew()
            except Exception as exc:  # the election must outlive any single failure (it is the only renewer)
                log.warning("lease %s: election step failed: %r", self.config.name, exc)
                self._still_leader(self._monotonic())
            stop.wait(self.config.retry_period_s)
        if release_on_stop:
            self.release()

    async def run_async(self, stop: threading.Event, release_on_stop: bool = True) -> None:
        await asyncio.to_thread(self.run, stop, release_on_stop)
