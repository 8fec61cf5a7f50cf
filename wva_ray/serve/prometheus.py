"""Mode `prometheus`: per-replica vLLM saturation signals from Prometheus. Does I/O (HTTP, through the one
Prometheus client `adapters.prometheus.client.PrometheusHttp`), and is only ever called from a `Poller` thread,
never from the Serve controller's tick.

The query (`adapters.prometheus.queries.replica_signal_query`) joins Ray's `ray_vllm_*` series, labelled by
`WorkerId`, to the deployment's Serve replicas; its label values are escaped by the builder. NaN and Inf samples
are dropped, never read as zero. One query per signal per fetch, no retries (the Poller fetches again soon).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wva_ray.adapters.prometheus import queries as q
from wva_ray.adapters.prometheus.client import PrometheusHttp, PrometheusSettings
from wva_ray.serve.settings import PrometheusModeSettings


def client_settings(settings: PrometheusModeSettings) -> PrometheusSettings:
    """The connection of mode `prometheus` (a URL without a scheme means http)."""
    url = settings.url if settings.url.startswith(("http://", "https://")) else f"http://{settings.url}"
    return PrometheusSettings(base_url=url, bearer_token=settings.bearer_token, timeout_s=settings.timeout_s, retries=0)


@dataclass(frozen=True, slots=True)
class ReplicaSignalsByName:
    """(kv_ratio, queue_len) per Serve replica unique id, for replicas that have both signals."""

    by_replica: Mapping[str, tuple[float, float]]


class PrometheusReplicaSignals:
    """The fetch function of a mode-`prometheus` Poller for one deployment."""

    def __init__(
        self,
        settings: PrometheusModeSettings,
        app_name: str,
        deployment: str,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = PrometheusHttp(client_settings(settings))
        self._wall_clock = wall_clock
        self._kv_query = self._query_of(settings.kv_metric, settings, app_name, deployment)
        self._queue_query = self._query_of(settings.queue_metric, settings, app_name, deployment)

    @staticmethod
    def _query_of(metric: str, settings: PrometheusModeSettings, app_name: str, deployment: str) -> str:
        return q.replica_signal_query(metric, settings.window_s, settings.join_metric, app_name, deployment)

    def _by_replica(self, promql: str, signal: str, eval_ts_s: float) -> dict[str, float]:
        return q.values_by_label(q.parse_vector(self._http.query(promql, eval_ts_s, signal)), "replica")

    def __call__(self) -> ReplicaSignalsByName:
        self._http.refresh_auth()
        eval_ts_s = self._wall_clock()
        kv = self._by_replica(self._kv_query, "kv", eval_ts_s)
        queue = self._by_replica(self._queue_query, "queue", eval_ts_s)
        return ReplicaSignalsByName({r: (kv[r], queue[r]) for r in kv.keys() & queue.keys()})
