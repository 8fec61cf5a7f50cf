"""`KubeWiring`, the production `Wiring` (a real cluster): the Kubernetes reader and publisher for the coordinator
(`KubeCluster`: one watched reader that is both its `ClusterView` and its publisher) and the Prometheus (or, with
`direct_scrape`, the pod-scraping) metrics source for the shards, built from the `Settings` inside the process
that uses them (Kubernetes API client objects cannot be pickled). No I/O at construction or when pickled; the
objects it builds do I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wva_ray.adapters.clock import SystemClock
from wva_ray.adapters.kube.client import KubeApi, load_configuration
from wva_ray.adapters.kube.cluster_state import ClusterState
from wva_ray.adapters.kube.events import event_body, post_event
from wva_ray.adapters.kube.publish import ActuationMode, KubePublisher
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.scaler_events import ScalerEvents
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.adapters.prometheus.collector import PrometheusMetricsSource
from wva_ray.adapters.scrape import ScrapeMetricsSource
from wva_ray.api.plan import Decision
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.ports import Clock, ConfigError, DecisionPublisher, MetricsSource
from wva_ray.runtime.coordinator_cycle import ClusterView
from wva_ray.runtime.cycle import ScrapeEndpoint
from wva_ray.settings import Settings


def prometheus_settings(settings: Settings) -> PrometheusSettings:
    """The prometheus section, which must name a server (the controller's metrics come from it)."""
    if not settings.prometheus.base_url:
        raise ConfigError("PROMETHEUS_BASE_URL (--prometheus-url) is required unless --direct-scrape is set")
    return settings.prometheus


class KubeCluster:
    """ClusterView + DecisionPublisher over one watched reader: the publish step uses the targets that the
    same cycle's observe resolved."""

    def __init__(self, api: KubeApi, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.scrape_port = settings.runtime.scrape_port
        self.scrape_scheme = settings.runtime.scrape_scheme
        self.reader = KubeReader(api, settings.kube).start()
        self.publisher = KubePublisher(
            api,
            lookup=self.reader.va_object,
            heartbeat_s=settings.runtime.status_heartbeat_s,
            mode=ActuationMode(settings.runtime.actuation),
        )
        self.scaler_events = ScalerEvents(api)
        self._last: ClusterState | None = None

    async def observe(self, now: datetime) -> Snapshot:
        state = await self.reader.read_async(now)
        self._last = state
        return state.snapshot(now)

    async def publish(self, decisions: Sequence[Decision], now: datetime) -> None:
        targets = self._last.targets if self._last is not None else {}
        report = await self.publisher.publish_async(decisions, now, targets)
        if self._last is not None and not report.skipped_not_leader:
            await asyncio.to_thread(self.scaler_events.publish, self._last.annotated, decisions, now)

    async def scrape_endpoints(self) -> list[ScrapeEndpoint]:
        """`http://<podIP>:<scrape_port>` of every live pod of the last observed targets (direct-scrape mode;
        one pod list per namespace per cycle)."""
        state = self._last
        if state is None:
            return []
        return await asyncio.to_thread(self._endpoints, state)

    def _endpoints(self, state: ClusterState) -> list[ScrapeEndpoint]:
        models = {va.key: va.spec.model_id for va in state.variant_autoscalings}
        wanted: dict[str, dict[str, str]] = {}  # namespace -> pod -> model
        for key, pods in state.target_pods.items():
            namespace = key.split("/", 1)[0]
            for pod in pods:
                wanted.setdefault(namespace, {})[pod] = models.get(key, "")
        out = []
        for namespace, model_of in sorted(wanted.items()):
            listing = self.api.get(f"/api/v1/namespaces/{namespace}/pods")
            for item in listing.get("items") or []:
                name = (item.get("metadata") or {}).get("name")
                ip = (item.get("status") or {}).get("podIP")
                if name in model_of and ip and model_of[name]:
                    url = f"{self.scrape_scheme}://{ip}:{self.scrape_port}"
                    out.append(ScrapeEndpoint(namespace, name, model_of[name], url))
        return out

    async def report_warnings(self, warnings: Sequence[str], now: datetime) -> None:
        """One Warning Event `InvalidConfiguration` per ConfigMap named by new configuration warnings (each
        warning names the key path and the value); others go on the saturation ConfigMap."""
        await asyncio.to_thread(self._post_warning_events, list(warnings), now)

    def _post_warning_events(self, warnings: list[str], now: datetime) -> None:
        kube = self.settings.kube
        by_cm: dict[tuple[str, str], list[str]] = {}
        for w in warnings:
            by_cm.setdefault(config_map_of(w, kube), []).append(w)
        for (namespace, name), lines in sorted(by_cm.items()):
            message = "; ".join(lines)
            if len(message) > MAX_EVENT_MESSAGE:
                message = message[: MAX_EVENT_MESSAGE - 20] + f" ... ({len(lines)} problems)"
            involved = {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "namespace": namespace}
            body = event_body(involved, "InvalidConfiguration", message, warning=True, identity="wva-ray", now=now)
            post_event(self.api, body)

    def close(self) -> None:
        self.reader.stop()


MAX_EVENT_MESSAGE = 8000


def config_map_of(warning: str, s: KubeSettings) -> tuple[str, str]:
    """(namespace, name) of the ConfigMap a configuration warning is about (`config.<kind>...` or
    `config.namespaces.<ns>.<kind>...`; anything else: the global saturation ConfigMap)."""
    parts = warning.split(":", 1)[0].split(".")
    names = {"saturation": s.saturation_config_map, "scaleToZero": s.scale_to_zero_config_map}
    if len(parts) >= 4 and parts[:2] == ["config", "namespaces"] and parts[3] in names:
        return parts[2], names[parts[3]]
    if len(parts) >= 2 and parts[0] == "config" and parts[1] in names:
        return s.pod_namespace, names[parts[1]]
    return s.pod_namespace, s.saturation_config_map


@dataclass
class KubeWiring:
    """Picklable: only settings cross process boundaries; clients are built on first use in each process."""

    settings: Settings
    _cluster: KubeCluster | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "_cluster": None}

    def api(self) -> KubeApi:
        return KubeApi(load_configuration(self.settings.kube.kubeconfig))

    def cluster(self) -> KubeCluster:
        if self._cluster is None:
            self._cluster = KubeCluster(self.api(), self.settings)
        return self._cluster

    def cluster_view(self) -> ClusterView:
        return self.cluster()

    def publishers(self) -> list[DecisionPublisher]:
        return [self.cluster()]

    def metrics_source(self) -> MetricsSource:
        if self.settings.runtime.direct_scrape:
            return ScrapeMetricsSource()
        return PrometheusMetricsSource(prometheus_settings(self.settings))

    def clock(self) -> Clock:
        return SystemClock()
