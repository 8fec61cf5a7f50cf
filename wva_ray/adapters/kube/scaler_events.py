"""Events about annotated scalers (does I/O: one POST per Event; best effort, never fails a cycle).

Upstream v0.9 writes no status: a variant discovered from an HPA or ScaledObject has no object of its own, so
its Events go on the scaler object (named after it, as the gauges are):
- ``ScaledUp`` / ``ScaledDown`` (Normal) when its desired count changes; ``ScaledToZero`` (Normal) instead of
  ``ScaledDown`` when the scale-to-zero enforcer took it to 0;
- ``ResourceConstrained`` (Warning) when a limiter (GPU inventory, quota, budget) cut its decision, and
  ``MetricsUnavailable`` (Warning) when its decision is held for want of metrics: once on entering the state;
- ``InvalidConfiguration`` (Warning) when a managed scaler is skipped for a missing or invalid annotation (ours:
  upstream only logs it), once per distinct problem;
- ``UnattributedReadyPods`` (Warning) on the namespace's first managed scaler when Ready vLLM pods map to no
  managed scaler, once per distinct set of pods.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from wva_ray.adapters.kube.client import JsonObj, KubeApi
from wva_ray.adapters.kube.events import COMPONENT, event_body, post_event
from wva_ray.adapters.kube.scalers import AnnotatedState
from wva_ray.api.plan import Decision
from wva_ray.api.scaler import ScalerObject
from wva_ray.api.va import ConditionStatus, ConditionType

log = logging.getLogger(__name__)

SCALED_UP = "ScaledUp"
SCALED_DOWN = "ScaledDown"
SCALED_TO_ZERO = "ScaledToZero"
RESOURCE_CONSTRAINED = "ResourceConstrained"
METRICS_UNAVAILABLE = "MetricsUnavailable"
INVALID_CONFIGURATION = "InvalidConfiguration"
UNATTRIBUTED_READY_PODS = "UnattributedReadyPods"


class ScalerEvents:
    """Remembers what it already reported, so each fact is one Event, not one per cycle."""

    def __init__(self, api: KubeApi, identity: str = COMPONENT) -> None:
        self.api = api
        self.identity = identity
        self._desired: dict[str, int] = {}
        self._reported: dict[str, str] = {}  # scaler key -> last invalid reason reported
        self._missed: dict[str, frozenset[str]] = {}  # namespace -> pods last reported
        self._states: dict[str, set[str]] = {RESOURCE_CONSTRAINED: set(), METRICS_UNAVAILABLE: set()}  # keys in it
        self.posted = 0

    def _post(self, obj: ScalerObject | None, kind: str, ns: str, name: str, reason: str, msg: str, warn: bool,
              now: datetime) -> None:  # fmt: skip
        involved: JsonObj = {"apiVersion": obj.api_version if obj else "", "kind": kind, "name": name, "namespace": ns}
        uid = obj.metadata.model_extra.get("uid") if obj and obj.metadata.model_extra else None
        if uid:
            involved["uid"] = uid
        error = post_event(self.api, event_body(involved, reason, msg, warning=warn, identity=self.identity, now=now))
        if error is None:
            self.posted += 1
        else:
            log.warning("scaler=%s/%s event %s not recorded: %s", ns, name, reason, error)

    def publish(self, state: AnnotatedState, decisions: Sequence[Decision], now: datetime) -> None:
        by_key = {s.key: s for s in state.scalers}
        self._scaling(by_key, decisions, now)
        self._warning_states(by_key, decisions, now)
        self._invalid(state, by_key, now)
        self._misses(state, now)

    def _scaling(self, by_key: dict[str, ScalerObject], decisions: Sequence[Decision], now: datetime) -> None:
        seen = set()
        for d in decisions:
            if d.source is None or d.held:
                continue
            seen.add(d.key)
            before = self._desired.get(d.key)
            self._desired[d.key] = d.desired_replicas
            if before is None or before == d.desired_replicas:
                continue
            reason = SCALED_UP if d.desired_replicas > before else SCALED_DOWN
            if d.desired_replicas == 0 and d.telemetry is not None and d.telemetry.enforcer_policy == "scale_to_zero":
                reason = SCALED_TO_ZERO
            msg = f"desired replicas {before} -> {d.desired_replicas}: {d.reason}"
            log.info("scaler=%s %s %s", d.key, reason, msg)
            self._post(by_key.get(d.key), d.source.kind, d.namespace, d.name, reason, msg, False, now)
        for key in [k for k in self._desired if k not in seen and k not in by_key]:
            del self._desired[key]

    def _warning_states(self, by_key: dict[str, ScalerObject], decisions: Sequence[Decision], now: datetime) -> None:
        """One Warning when a scaler's decision enters a constrained or metrics-less state (again after leaving)."""
        for reason, previous in self._states.items():
            current: set[str] = set()
            for d in decisions:
                if d.source is None or not _in_state(d, reason):
                    continue
                current.add(d.key)
                if d.key not in previous:
                    msg = _state_message(d, reason)
                    log.warning("scaler=%s %s %s", d.key, reason, msg)
                    self._post(by_key.get(d.key), d.source.kind, d.namespace, d.name, reason, msg, True, now)
            self._states[reason] = current

    def _invalid(self, state: AnnotatedState, by_key: dict[str, ScalerObject], now: datetime) -> None:
        current = {f"{s.namespace}/{s.name}": s for s in state.skipped if s.invalid}
        for key, s in current.items():
            if self._reported.get(key) == s.reason:
                continue
            self._reported[key] = s.reason
            log.warning("scaler=%s skipped: %s", key, s.reason)
            self._post(by_key.get(key), s.kind, s.namespace, s.name, INVALID_CONFIGURATION, s.message(), True, now)
        for key in [k for k in self._reported if k not in current]:
            del self._reported[key]

    def _misses(self, state: AnnotatedState, now: datetime) -> None:
        by_ns: dict[str, set[str]] = {}
        for ns, pod, _reason in state.misses:
            by_ns.setdefault(ns, set()).add(pod)
        for ns, pods in by_ns.items():
            frozen = frozenset(pods)
            if self._missed.get(ns) == frozen:
                continue
            self._missed[ns] = frozen
            anchor = next((s for s in state.scalers if s.metadata.namespace == ns and s.managed), None)
            if anchor is None:
                continue
            msg = f"{len(pods)} Ready pods map to no managed scaler: {', '.join(sorted(pods))}"
            log.warning("namespace=%s %s", ns, msg)
            self._post(anchor, anchor.kind, ns, anchor.metadata.name, UNATTRIBUTED_READY_PODS, msg, True, now)
        for ns in [n for n in self._missed if n not in by_ns]:
            del self._missed[ns]


def _in_state(d: Decision, reason: str) -> bool:
    if reason == RESOURCE_CONSTRAINED:
        return d.limited
    return any(c.type == ConditionType.METRICS_AVAILABLE and c.status == ConditionStatus.FALSE for c in d.conditions)


def _state_message(d: Decision, reason: str) -> str:
    if reason == RESOURCE_CONSTRAINED:
        return f"desired replicas limited to {d.desired_replicas}: {d.reason}"
    cond = next(c for c in d.conditions if c.type == ConditionType.METRICS_AVAILABLE)
    return f"{cond.reason}: {cond.message}; desired replicas held at {d.desired_replicas}"
