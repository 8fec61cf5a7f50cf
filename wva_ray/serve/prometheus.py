"""Mode `prometheus`: per-replica vLLM saturation signals from the Prometheus HTTP API. Does I/O (HTTP GET), and
is only ever called from a `Poller` thread, never from the Serve controller's tick.

Ray re-exports vLLM's engine metrics as `ray_vllm_*` labelled by `WorkerId` (the Ray worker), not by Serve replica.
We join them to the deployment's replicas the way Ray's own Serve-LLM dashboard does, through a Serve series that
carries `WorkerId`, `application`, `deployment` and `replica`:

    max by (replica) (
      max_over_time(<signal>[<window>s])
      * on (WorkerId) group_left (replica)
      max by (WorkerId, replica) (<join_metric>{application="<app>", deployment="<dep>"} * 0 + 1))

Label values are escaped. NaN and Inf samples are dropped, never read as zero. One query per signal per fetch.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wva_ray.serve.settings import PrometheusSettings


def escape_label_value(value: str) -> str:
    """Escape a string for use inside a PromQL double-quoted label matcher."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def replica_signal_query(metric: str, settings: PrometheusSettings, app_name: str, deployment: str) -> str:
    """The PromQL that yields one sample per replica of (app_name, deployment) for one vLLM signal."""
    selector = (
        f'{settings.join_metric}{{application="{escape_label_value(app_name)}", '
        f'deployment="{escape_label_value(deployment)}"}}'
    )
    window = f"{max(1, round(settings.window_s))}s"
    return (
        f"max by (replica) (max_over_time({metric}[{window}]) "
        f"* on (WorkerId) group_left (replica) "
        f"max by (WorkerId, replica) ({selector} * 0 + 1))"
    )


def parse_vector_by_replica(payload: Mapping[str, Any]) -> dict[str, float]:
    """`{replica: value}` from a Prometheus instant-vector response. Raises ValueError naming what is wrong."""
    if payload.get("status") != "success":
        raise ValueError(f"prometheus status {payload.get('status')!r}: {payload.get('error')!r}")
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        got = data.get("resultType") if isinstance(data, dict) else data
        raise ValueError(f"prometheus data.resultType: expected 'vector', got {got!r}")
    out: dict[str, float] = {}
    for row in data.get("result", []):
        replica = row.get("metric", {}).get("replica")
        pair = row.get("value")
        if not isinstance(replica, str) or not isinstance(pair, list) or len(pair) != 2:
            continue
        try:
            value = float(pair[1])
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            out[replica] = value
    return out


@dataclass(frozen=True, slots=True)
class ReplicaSignalsByName:
    """(kv_ratio, queue_len) per Serve replica unique id, for replicas that have both signals."""

    by_replica: Mapping[str, tuple[float, float]]


class PrometheusReplicaSignals:
    """The fetch function of a mode-`prometheus` Poller for one deployment."""

    def __init__(self, settings: PrometheusSettings, app_name: str, deployment: str) -> None:
        base = settings.url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            base = f"http://{base}"
        self._query_url = f"{base}/api/v1/query"
        self._settings = settings
        self._kv_query = replica_signal_query(settings.kv_metric, settings, app_name, deployment)
        self._queue_query = replica_signal_query(settings.queue_metric, settings, app_name, deployment)

    def _query(self, promql: str) -> dict[str, float]:
        url = f"{self._query_url}?{urllib.parse.urlencode({'query': promql})}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._settings.bearer_token:
            request.add_header("Authorization", f"Bearer {self._settings.bearer_token}")
        with urllib.request.urlopen(request, timeout=self._settings.timeout_s) as response:
            payload = json.loads(response.read().decode("utf-8"))
        return parse_vector_by_replica(payload)

    def __call__(self) -> ReplicaSignalsByName:
        kv = self._query(self._kv_query)
        queue = self._query(self._queue_query)
        return ReplicaSignalsByName({r: (kv[r], queue[r]) for r in kv.keys() & queue.keys()})
