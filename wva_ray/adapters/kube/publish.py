"""Kubernetes writing side: VA status, Events and direct scaling (does I/O; blocking, see ``publish_async``).

- Status: ``status.plan_status`` decides whether a write is due; the write is a JSON merge patch of
  ``/status`` carrying the object's ``resourceVersion``, so a stale view fails with 409, which is answered
  by re-reading the VA and re-planning (up to ``max_attempts``), never dropped. The status subresource
  ignores ``spec`` by construction.
- Events: one per transition (condition flip, desired replicas moving), never per cycle. A status write that got
  no answer (timeout, connection reset) may still have been applied; the status it replaced is remembered, and the
  next write for that VA takes its transitions from there, so the Events of a write that landed unseen are not lost.
- Actuation (``direct`` mode): merge patch of the target's scale subresource when its spec differs;
  scale-from-zero patches a target at 0 to 1.
Every call blocks; ``publish_async`` runs a whole publish on a worker thread via ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from wva_ray.adapters.kube.client import JsonObj, KubeApi, KubeApiError, KubeConflict, KubeNotFound, KubeUnavailable
from wva_ray.adapters.kube.cluster_state import ScaleTargetObject
from wva_ray.adapters.kube.events import COMPONENT, event_body, post_event
from wva_ray.adapters.kube.status import Transition, heartbeat_for, plan_status
from wva_ray.api.plan import Decision
from wva_ray.api.va import GROUP, PLURAL, VERSION
from wva_ray.core.ports import ConflictError, TransientApiError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class ActuationMode(StrEnum):
    HPA = "hpa"  # publish only (gauges + status); the HPA or KEDA scales
    DIRECT = "direct"  # also patch the target's scale subresource
    SERVE = "serve"  # Ray Serve targets are set elsewhere; status only here


def va_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


@dataclass(frozen=True)
class WriteResult:
    key: str
    written: bool
    attempts: int
    transitions: tuple[Transition, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class PublishReport:
    """Per cycle: what was written (the benchmark's "status writes per cycle")."""

    status_writes: int
    events: int
    scale_writes: int
    results: tuple[WriteResult, ...]
    skipped_not_leader: bool = False


class KubePublisher:
    """Writes decisions back to the cluster. ``lookup`` returns the cached VA (no GET in steady state)."""

    def __init__(
        self,
        api: KubeApi,
        *,
        lookup: Callable[[str, str], JsonObj | None] | None = None,
        heartbeat_s: float = 300.0,
        mode: ActuationMode = ActuationMode.HPA,
        identity: str = COMPONENT,
        max_attempts: int = MAX_ATTEMPTS,
        workers: int = 8,
        is_leader: Callable[[], bool] | None = None,
    ) -> None:
        self.api = api
        self.lookup = lookup
        self.heartbeat_s = heartbeat_s
        self.mode = mode
        self.identity = identity
        self.max_attempts = max_attempts
        self.workers = workers
        self.is_leader = is_leader  # e.g. LeaderElector.is_leader: only the Lease holder writes
        # VA key -> the object as it was before a status write that got no answer (applied or not: unknown)
        self._unconfirmed: dict[str, JsonObj] = {}
        self._unconfirmed_lock = threading.Lock()

    # -- status -----------------------------------------------------------------------------------------
    def write_status(self, decision: Decision, now: datetime, *, applied: bool = True) -> WriteResult:
        """Patch the VA's status if due; on 409 re-read and retry. Raises ``ConflictError`` after max_attempts."""
        path = va_path(decision.namespace, decision.name)
        obj = self.lookup(decision.namespace, decision.name) if self.lookup else None
        with self._unconfirmed_lock:
            before_lost = self._unconfirmed.pop(decision.key, None)
        for attempt in range(1, self.max_attempts + 1):
            if obj is None:
                try:
                    obj = self.api.get(path)
                except KubeNotFound:
                    return WriteResult(decision.key, False, attempt, error="VA not found")
            heartbeat_s = heartbeat_for(decision.key, self.heartbeat_s)
            change = plan_status(obj, decision, now, applied=applied, heartbeat_s=heartbeat_s)
            # after a write that got no answer, the transitions run from the status it replaced: if it landed, the
            # object already shows the new state and its Events were never sent
            if before_lost is not None:
                since = plan_status(before_lost, decision, now, applied=applied, heartbeat_s=heartbeat_s)
                transitions = since.transitions if since is not None else ()
            else:
                transitions = change.transitions if change is not None else ()
            if change is None:
                return WriteResult(decision.key, False, attempt, transitions)
            body = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "status": change.status}
            try:
                self.api.patch(f"{path}/status", body)
            except KubeConflict:
                log.info("va=%s status conflict (attempt %d): re-reading", decision.key, attempt)
                obj = None
                continue
            except KubeNotFound:
                return WriteResult(decision.key, False, attempt, error="VA not found")
            except KubeUnavailable:
                with self._unconfirmed_lock:
                    self._unconfirmed[decision.key] = before_lost or obj
                raise
            if change.semantic:
                log.info("va=%s status updated: desired=%d", decision.key, decision.desired_replicas)
            return WriteResult(decision.key, True, attempt, transitions)
        raise ConflictError(f"va={decision.key}: status write lost {self.max_attempts} resourceVersion races")

    # -- events -----------------------------------------------------------------------------------------
    def emit_event(self, va: Mapping[str, object] | None, decision: Decision, t: Transition, now: datetime) -> None:
        meta = va.get("metadata") if isinstance(va, Mapping) else None
        uid = meta.get("uid") if isinstance(meta, Mapping) else None
        involved: JsonObj = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VariantAutoscaling",
            "name": decision.name,
            "namespace": decision.namespace,
            **({"uid": uid} if uid else {}),
        }
        message = f"{t.kind}: {t.old} -> {t.new}" + (f": {t.message}" if t.message else "")
        body = event_body(involved, t.reason, message, warning=t.warning, identity=self.identity, now=now)
        error = post_event(self.api, body)
        if error is not None:
            log.warning("va=%s event %s not recorded: %s", decision.key, t.reason, error)

    # -- actuation ----------------------------------------------------------------------------------
    def scale(self, target: ScaleTargetObject, replicas: int) -> bool:
        """Patch the target's scale subresource to ``replicas``; False when it already has that spec."""
        if target.spec_replicas == replicas:
            return False
        try:
            self.api.patch(target.scale_path, {"spec": {"replicas": replicas}})
        except KubeApiError as exc:
            raise TransientApiError(f"scale {target.scale_path} to {replicas}: {exc}") from exc
        log.info("scaled %s/%s %s to %d", target.namespace, target.name, target.resource.kind, replicas)
        return True

    def scale_from_zero(self, target: ScaleTargetObject) -> bool:
        """The scale-from-zero path: a target at 0 replicas goes to 1 (no-op otherwise)."""
        return target.spec_replicas == 0 and self.scale(target, 1)

    # -- one cycle --------------------------------------------------------------------------------------
    def _publish_one(
        self, d: Decision, now: datetime, target: ScaleTargetObject | None
    ) -> tuple[WriteResult, int, int]:
        applied, scaled, events = True, 0, 0
        if self.mode is ActuationMode.DIRECT and d.publish and not d.held:
            if target is None:
                applied = False
            else:
                try:
                    scaled = int(self.scale(target, d.desired_replicas))
                except TransientApiError as exc:
                    log.warning("va=%s %s", d.key, exc)
                    applied = False
        if d.source is not None:  # annotated scaler (v0.9): no VA object, no status; Events in scaler_events
            return WriteResult(d.key, False, 0), scaled, events
        result = self.write_status(d, now, applied=applied)
        if result.transitions:
            va = self.lookup(d.namespace, d.name) if self.lookup else None
            for t in result.transitions:
                self.emit_event(va, d, t, now)
                events += 1
        return result, scaled, events

    def publish(
        self,
        decisions: Sequence[Decision],
        now: datetime,
        targets: Mapping[str, ScaleTargetObject] | None = None,
    ) -> PublishReport:
        """Status (+ Events) for every decision; in direct mode also the scale of each acted-on target.

        VAs are independent, so up to ``workers`` of them are written concurrently (a cold start or a
        heartbeat cycle writes every VA); a steady cycle writes nothing and makes no request.
        """
        if self.is_leader is not None and not self.is_leader():
            return PublishReport(status_writes=0, events=0, scale_writes=0, results=(), skipped_not_leader=True)
        targets = targets or {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kube-publish") as pool:
            outcomes = list(pool.map(lambda d: self._publish_one(d, now, targets.get(d.key)), decisions))
        results = tuple(r for r, _, _ in outcomes)
        return PublishReport(
            status_writes=sum(1 for r in results if r.written),
            events=sum(e for _, _, e in outcomes),
            scale_writes=sum(s for _, s, _ in outcomes),
            results=results,
        )

    async def publish_async(
        self, decisions: Sequence[Decision], now: datetime, targets: Mapping[str, ScaleTargetObject] | None = None
    ) -> PublishReport:
        return await asyncio.to_thread(self.publish, decisions, now, targets)
