"""Prometheus export of decisions and controller health, on a private CollectorRegistry. Does network I/O only in
`GaugeExporter.serve` (an HTTP server thread); everything else updates in-memory metric families.

Decision gauges keep upstream WVA's names and labels so that existing HPA, KEDA and prometheus-adapter rules
work unchanged: `wva_desired_replicas`, `wva_current_replicas`, `wva_desired_ratio` with `variant_name`,
`namespace`, `accelerator_type` (and `controller_instance` when the controller has one), and the counter
`wva_replica_scaling_total{variant_name,namespace,direction,reason}`, incremented on every change of the desired
count (as v0.9 does). WVA v0.9's other families are in `adapters.v09_metrics`. Series of VAs that disappear from
a publish (deleted, no longer owned, or not publishable) are removed.
Health metrics: `wva_cycle_duration_seconds`, `wva_shard_lag_seconds`,
`wva_errors_total{component,error_type}`, `wva_metrics_missing_variants`, `wva_held_variants`, `wva_publishes_total`,
`wva_is_leader`, `wva_build_info`.

One port: in Ray mode the decisions are made in the coordinator actor, but the driver process (`wva-ray run`,
or the RayService supervisor) serves them. `serve(..., relayed=True)` serves this exporter's own
`DRIVER_FAMILIES` plus every other family last handed to `relay.update` (the coordinator's `families()`,
fetched by the driver each second), so `wva_desired_replicas` and the health metrics share `metrics_port`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.metrics_core import Metric

from wva_ray.adapters.gauge_series import SeriesCache
from wva_ray.adapters.v09_metrics import V09Metrics
from wva_ray.api.plan import Decision
from wva_ray.core.ports import QueryTiming

CYCLE_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# families a driver exports itself when it relays the coordinator's (see RelayedFamilies)
DRIVER_FAMILIES = frozenset({"wva_is_leader", "wva_build_info"})


class RelayedFamilies:
    """A prometheus_client collector: the `own` families of a local registry, then the latest families handed
    to `update` (from another process) except those names, so no family appears twice."""

    def __init__(self, local: CollectorRegistry, own: frozenset[str]) -> None:
        self._local = local
        self._own = own
        self._remote: tuple[Metric, ...] = ()

    def update(self, families: Sequence[Metric]) -> None:
        self._remote = tuple(families)  # replaced whole: a scrape sees one consistent set

    def clear(self) -> None:
        self._remote = ()

    def describe(self) -> list[Metric]:
        return []  # names vary with the relayed set; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        for family in self._local.collect():
            if family.name in self._own:
                yield family
        for family in self._remote:
            if family.name not in self._own:
                yield family


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """The label values of one VA's decision gauges."""

    variant_name: str
    namespace: str
    accelerator_type: str


def _version() -> str:
    try:
        return metadata.version("wva-ray")
    except metadata.PackageNotFoundError:
        return "unknown"


def scaling_reason(decision: Decision) -> str:
    """A bounded label value for the scaling counter: the OptimizationReady reason, else the analyzer."""
    for cond in decision.conditions:
        if cond.type == "OptimizationReady":
            return cond.reason
    return decision.analyzer or "Unknown"


class GaugeExporter:
    """Decision gauges and health metrics of one controller instance (implements DecisionPublisher)."""

    def __init__(
        self,
        controller_instance: str | None = None,
        registry: CollectorRegistry | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._instance = controller_instance or None
        labels = ["variant_name", "namespace", "accelerator_type"]
        counter_labels = ["variant_name", "namespace", "direction", "reason"]
        if self._instance:
            labels.append("controller_instance")
            counter_labels.append("controller_instance")
        reg = self.registry
        self.desired = Gauge("wva_desired_replicas", "Desired replicas of the variant", labels, registry=reg)
        self.current = Gauge("wva_current_replicas", "Current replicas of the variant", labels, registry=reg)
        self.ratio = Gauge(
            "wva_desired_ratio",
            "Desired over current replicas (= desired when current is 0)",
            labels,
            registry=reg,
        )
        self.scaling = Counter(
            "wva_replica_scaling", "Changes of the desired replica count", counter_labels, registry=reg
        )
        self.cycle_duration = Histogram(
            "wva_cycle_duration_seconds",
            "Duration of one decision cycle",
            buckets=CYCLE_BUCKETS_S,
            registry=reg,
        )
        self.shard_lag = Gauge(
            "wva_shard_lag_seconds",
            "Age of the newest proposal of a shard at publish time",
            ["shard"],
            registry=reg,
        )
        self.v09 = V09Metrics(reg, self._instance, interval_s)  # WVA v0.9's families, wva_errors_total among them
        miss_labels = ["namespace", "reason", *(["controller_instance"] if self._instance else [])]
        self.pod_mapping_misses = Counter(
            "wva_pod_mapping_miss",
            "Ready vLLM pods that map to no managed scaler (WVA v0.9 name), per cycle",
            miss_labels,
            registry=reg,
        )
        self.metrics_missing = Gauge(
            "wva_metrics_missing_variants",
            "Variants whose metrics were missing or stale this cycle",
            registry=reg,
        )
        self.held = Gauge("wva_held_variants", "Variants whose decision was held this cycle", registry=reg)
        self.publishes = Counter("wva_publishes", "Plans published (status, gauges, actuation)", registry=reg)
        self.leader = Gauge("wva_is_leader", "1 when this instance holds the leader Lease (the writer)", registry=reg)
        self.build_info = Gauge("wva_build_info", "Build information", ["version"], registry=reg)
        self.build_info.labels(version=_version()).set(1)
        self._series: dict[str, SeriesKey] = {}
        self._children = SeriesCache()  # the decision gauges' series (labels() once per series)
        self._last_desired: dict[str, int] = {}
        self._servers: list[Any] = []
        self.relay = RelayedFamilies(self.registry, DRIVER_FAMILIES)

    def _labels(self, key: SeriesKey) -> tuple[str, ...]:
        base = (key.variant_name, key.namespace, key.accelerator_type)
        return (*base, self._instance) if self._instance else base

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        """Set the gauges of every publishable decision and drop the series of all other VAs."""
        self.apply(decisions)

    def apply(self, decisions: Sequence[Decision]) -> None:
        """Synchronous body of `publish`."""
        seen: dict[str, SeriesKey] = {}
        missing = 0
        held = 0
        for d in decisions:
            if any(c.type == "MetricsAvailable" and c.status != "True" for c in d.conditions):
                missing += 1
            held += int(d.held)
            if not d.publish or len(d.accelerator) < 2:
                continue
            key = SeriesKey(d.name, d.namespace, d.accelerator)
            old = self._series.get(d.key)
            if old is not None and old != key:
                self._remove(old)
            seen[d.key] = key
            labels = self._labels(key)
            self._children.set(self.desired, labels, d.desired_replicas)
            self._children.set(self.current, labels, d.current_replicas)
            ratio = d.desired_replicas / d.current_replicas if d.current_replicas else float(d.desired_replicas)
            self._children.set(self.ratio, labels, ratio)
            self._count_change(d)
        for va_key, series in self._series.items():
            if va_key not in seen:
                self._remove(series)
                self._last_desired.pop(va_key, None)
        self._series = seen
        self.metrics_missing.set(missing)
        self.held.set(held)
        self.publishes.inc()
        self.v09.apply(decisions)

    def _count_change(self, d: Decision) -> None:
        before = self._last_desired.get(d.key)
        self._last_desired[d.key] = d.desired_replicas
        if before is None or before == d.desired_replicas:
            return
        direction = "up" if d.desired_replicas > before else "down"
        labels = [d.name, d.namespace, direction, scaling_reason(d)]
        if self._instance:
            labels.append(self._instance)
        self.scaling.labels(*labels).inc()

    def _remove(self, key: SeriesKey) -> None:
        labels = self._labels(key)
        for family in (self.desired, self.current, self.ratio):
            self._children.remove(family, labels)

    def observe_cycle(self, duration_s: float) -> None:
        self.cycle_duration.observe(duration_s)
        self.v09.observe_cycle(duration_s)

    def observe_query_timings(self, timings: Sequence[QueryTiming]) -> None:
        """The metrics sources' timed calls (carried in the shards' proposals): WVA v0.9's
        `wva_metrics_collection_duration_seconds` and `wva_metrics_collection_errors_total`."""
        self.v09.observe_queries(timings)

    def set_shard_lag(self, shard: int, lag_s: float) -> None:
        self.shard_lag.labels(shard=str(shard)).set(lag_s)

    def set_leader(self, leader: bool) -> None:
        self.leader.set(1 if leader else 0)

    def count_pod_mapping_misses(self, misses: Sequence[tuple[str, str]]) -> None:
        """One increment per (namespace, reason) of each unattributed pod this cycle (upstream v0.9's counter)."""
        for namespace, reason in misses:
            labels = [namespace, reason, *([self._instance] if self._instance else [])]
            self.pod_mapping_misses.labels(*labels).inc()

    def count_error(self, kind: str) -> None:
        """`wva_errors_total{component="controller", error_type=kind}` (upstream v0.9's labels)."""
        self.v09.count_error(kind)

    def render(self) -> bytes:
        """The registry in the Prometheus text format 0.0.4."""
        return generate_latest(self.registry)

    def families(self) -> list[Metric]:
        """A picklable copy of every family, for a driver's `relay.update`."""
        return list(self.registry.collect())

    def serve(self, port: int, address: str = "0.0.0.0", relayed: bool = False) -> int:
        """Serve /metrics on a daemon thread; returns the bound port (useful when `port` is 0). With `relayed`,
        serve `DRIVER_FAMILIES` of this exporter and the families last given to `relay.update`."""
        registry = self.registry
        if relayed:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(self.relay)
        server, _thread = start_http_server(port, addr=address, registry=registry)
        self._servers.append(server)
        return int(server.server_port)

    def close(self) -> None:
        """Stop every server started by `serve`."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
