"""WVA v0.9's `wva_*` metrics (upstream-v0.9.md section 5), on the exporter's registry. No I/O.

Values come from what the controller did: the decisions' `VariantTelemetry` (core.telemetry), the cycle durations
and errors the runtime reports to `GaugeExporter`. Every family gains `controller_instance` when one is set, as
upstream's do. Per-variant series of a variant absent from a publish are removed.

`wva_config_optimization_interval_seconds` is exported when the runtime hands the exporter its cycle interval.
`wva_metrics_collection_duration_seconds` and `wva_metrics_collection_errors_total` count the metrics source's
timed calls, measured where the source runs (the shards) and handed over as `QueryTiming` rows
(`observe_queries`). `wva_pod_mapping_miss_total` lives in `GaugeExporter`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from wva_ray.adapters.gauge_series import SeriesCache
from wva_ray.api.plan import Decision, VariantTelemetry
from wva_ray.core.ports import QueryTiming

DURATION_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
COLLECTION_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # upstream v0.9's
OPTIMIZERS = ("cost-aware", "limited-allocation")  # wva-ray's: V2's cost order; with a limiter, global allocation
FRESHNESS = ("fresh", "stale", "missing", "unavailable")


class V09Metrics:
    """The v0.9 families of one controller instance."""

    def __init__(self, registry: CollectorRegistry, instance: str | None, interval_s: float | None = None) -> None:
        self._ci = [instance] if instance else []
        ci = ["controller_instance"] if instance else []
        reg = registry

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, [*labels, *ci], registry=reg)

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, [*labels, *ci], registry=reg)

        def histogram(name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, [*labels, *ci], buckets=buckets, registry=reg)

        self.duration = histogram(
            "wva_optimization_duration_seconds", "Duration of one optimization cycle", ["status"], DURATION_BUCKETS_S
        )
        self.models = gauge("wva_models_processed", "Model groups decided in the last cycle")
        self.errors = counter("wva_errors", "Controller errors", ["component", "error_type"])
        self.optimizer = gauge("wva_optimizer_active", "1 for the optimizer in use", ["optimizer_name"])
        self.info = gauge(
            "wva_config_info",
            "Always 1; the active configuration",
            ["analyzer_name", "limiter_enabled", "scale_to_zero_enabled"],
        )
        self.kv_spare = gauge("wva_config_kv_spare_threshold", "kvSpareTrigger of the global default entry")
        self.queue_spare = gauge("wva_config_queue_spare_threshold", "queueSpareTrigger of the global default entry")
        if interval_s is not None:  # fixed for the process (GLOBAL_OPT_INTERVAL; a change needs a restart)
            interval = gauge("wva_config_optimization_interval_seconds", "Seconds between optimization cycles")
            (interval.labels(*self._ci) if self._ci else interval).set(interval_s)
        self.limited = counter(
            "wva_decisions_limited", "Decisions a limiter cut", ["variant_name", "namespace", "limiter_name"]
        )
        self.enforced = counter("wva_enforcer_modifications", "Targets the enforcer set", ["policy_type"])
        self.gpu_up = gauge("wva_gpu_discovery_up", "1 when the GPU inventory was read, 0 when it failed")
        self.gpus = gauge(
            "wva_available_gpus", "Free GPUs per type", ["accelerator_vendor", "accelerator_model", "accelerator_type"]
        )
        self.collection_duration = histogram(
            "wva_metrics_collection_duration_seconds",
            "Duration of metrics collection operations",
            ["query_type"],
            COLLECTION_BUCKETS_S,
        )
        self.collection_errors = counter(
            "wva_metrics_collection_errors", "Failed metrics collection operations", ["query_type", "reason"]
        )
        self.pods = gauge("wva_metrics_pods_discovered", "Ready pods of managed variants", ["namespace"])
        self.freshness = gauge("wva_metrics_freshness_status", "Pods per metrics freshness", ["variant_name", "status"])
        sat = ["variant_name", "namespace", "model_name"]
        self.utilization = gauge(
            "wva_saturation_utilization", "Mean KV cache usage of live pods", [*sat, "accelerator_type"]
        )
        self.spare = gauge("wva_spare_capacity", "Spare capacity of the model (role)", [*sat, "unit"])
        self.required = gauge("wva_required_capacity", "Capacity still required by the model (role)", [*sat, "unit"])
        self.kv_used = gauge("wva_kv_cache_tokens_used", "KV cache tokens in use", sat)
        self.kv_capacity = gauge("wva_kv_cache_tokens_capacity", "KV cache tokens", sat)
        self.metrics_up = gauge(
            "wva_saturation_metrics_up", "1 when the variant has fresh metrics", ["variant_name", "namespace"]
        )
        self._series: dict[tuple[Any, ...], tuple[str, ...]] = {}  # (family id, labels) of per-variant series
        self._children = SeriesCache()  # their children (labels() once per series)

    def observe_cycle(self, duration_s: float, status: str = "success") -> None:
        self.duration.labels(status, *self._ci).observe(duration_s)

    def observe_queries(self, timings: Sequence[QueryTiming]) -> None:
        """One observation per timed call (failed ones too, as upstream), one error per failed call."""
        for t in timings:
            self.collection_duration.labels(t.query_type, *self._ci).observe(t.duration_s)
            if t.error:
                self.collection_errors.labels(t.query_type, t.error, *self._ci).inc()

    def count_error(self, error_type: str, component: str = "controller") -> None:
        self.errors.labels(component, error_type, *self._ci).inc()

    def _set(
        self, family: Gauge, labels: tuple[str, ...], value: float, seen: set[tuple[int, tuple[str, ...]]]
    ) -> None:
        full = (*labels, *self._ci)
        if not full:  # a family without labels has one series, never removed
            family.set(value)
            return
        self._children.set(family, full, value)
        key = (id(family), full)
        seen.add(key)
        self._series[key] = full

    def apply(self, decisions: Sequence[Decision]) -> None:
        """Set every family from one published plan; drop the per-variant series of variants no longer in it."""
        seen: set[tuple[int, tuple[str, ...]]] = set()
        families = {id(f): f for f in self._per_variant()}
        models: set[tuple[str, str]] = set()
        pods: Tally[str] = Tally()
        freshness: Tally[tuple[str, str]] = Tally()
        plan_wide: VariantTelemetry | None = None
        for d in decisions:
            t = d.telemetry
            if t is None:
                continue
            plan_wide = t
            models.add((d.namespace, d.model_id))
            counts = (t.pods_fresh, t.pods_stale, t.pods_missing, t.pods_unavailable)
            pods[d.namespace] += sum(counts)
            for status, n in zip(FRESHNESS, counts, strict=True):
                freshness[(d.name, status)] += n
            if t.limiter_name:
                self.limited.labels(d.name, d.namespace, t.limiter_name, *self._ci).inc()
            if t.enforcer_policy:
                self.enforced.labels(t.enforcer_policy, *self._ci).inc()
            self._variant(d, t, seen)
        for ns, n in pods.items():
            self._set(self.pods, (ns,), n, seen)
        for (name, status), n in freshness.items():
            self._set(self.freshness, (name, status), n, seen)
        if plan_wide is not None:
            self._plan_wide(plan_wide, seen)
        self._set(self.models, (), len(models), seen)
        for key in [k for k in self._series if k not in seen]:
            self._children.remove(families[key[0]], self._series[key])
            del self._series[key]

    def _per_variant(self) -> tuple[Gauge, ...]:
        return (
            self.utilization, self.spare, self.required, self.kv_used, self.kv_capacity, self.metrics_up,
            self.pods, self.freshness, self.optimizer, self.info, self.gpus, self.gpu_up, self.kv_spare,
            self.queue_spare, self.models,
        )  # fmt: skip

    def _variant(self, d: Decision, t: VariantTelemetry, seen: set[tuple[int, tuple[str, ...]]]) -> None:
        sat = (d.name, d.namespace, d.model_id)
        self._set(self.metrics_up, (d.name, d.namespace), 1 if t.pods_fresh > 0 else 0, seen)
        if t.utilization is not None:
            self._set(self.utilization, (*sat, d.accelerator), t.utilization, seen)
        if t.spare is not None:
            self._set(self.spare, (*sat, t.unit), t.spare, seen)
        if t.required is not None:
            self._set(self.required, (*sat, t.unit), t.required, seen)
        if t.kv_tokens_used is not None:
            self._set(self.kv_used, sat, t.kv_tokens_used, seen)
        if t.kv_tokens_capacity is not None:
            self._set(self.kv_capacity, sat, t.kv_tokens_capacity, seen)

    def _plan_wide(self, t: VariantTelemetry, seen: set[tuple[int, tuple[str, ...]]]) -> None:
        optimizer = OPTIMIZERS[1] if t.limiter_enabled else OPTIMIZERS[0]
        self._set(self.optimizer, (optimizer,), 1, seen)
        flags = (t.analyzer_name, str(t.limiter_enabled).lower(), str(t.scale_to_zero_enabled).lower())
        self._set(self.info, flags, 1, seen)
        self._set(self.kv_spare, (), t.kv_spare_threshold, seen)
        self._set(self.queue_spare, (), t.queue_spare_threshold, seen)
        if t.gpu_discovery >= 0:
            self._set(self.gpu_up, (), t.gpu_discovery, seen)
        for acc, n in t.gpus_available:
            self._set(self.gpus, ("", "", acc), n, seen)
