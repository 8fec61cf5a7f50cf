"""One-shot snapshot of the live cluster for ``wva-ray plan --from-cluster`` (does I/O): a ``KubeReader``
synced once, its state read, the metrics rows of its model groups added from a ``MetricsSource``; nothing
written. The settings are the same sections ``wva-ray run`` uses (``wva_ray.settings``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from wva_ray.adapters.kube.client import KubeApi, load_configuration
from wva_ray.adapters.kube.reader import KubeReader
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.api.snapshot import Snapshot
from wva_ray.core.config import parse_config, resolve_scale_to_zero
from wva_ray.core.ports import MetricsSource, MetricsUnavailableError, ModelGroupRef, ScaleToZeroQuery

log = logging.getLogger(__name__)


async def collect_metrics(snapshot: Snapshot, metrics: MetricsSource) -> Snapshot:
    """The snapshot with the metrics rows of its model groups (a failed source becomes ``metricsError``)."""
    groups = sorted(
        {ModelGroupRef(va.metadata.namespace, va.spec.model_id) for va in snapshot.variant_autoscalings},
        key=lambda g: (g.namespace, g.model_id),
    )
    parsed = parse_config(snapshot.config)
    queries = []
    for g in groups:
        stz = resolve_scale_to_zero(parsed, g.namespace, g.model_id)
        if stz.enabled:
            queries.append(ScaleToZeroQuery(g, stz.retention_s))
    try:
        rows = await metrics.pod_metrics(groups)
        counts = await metrics.request_counts(queries) if queries else []
    except MetricsUnavailableError as exc:
        return snapshot.model_copy(update={"metrics_error": str(exc)})
    try:
        queues = await metrics.flow_control_queues(groups)
    except MetricsUnavailableError as exc:  # scale-from-zero just waits a cycle; the decisions still go on
        log.warning("flow-control queues unavailable: %s", exc)
        queues = []
    return snapshot.model_copy(update={"metrics": rows, "request_counts": counts, "flow_control_queues": queues})


async def snapshot_from_cluster(
    now: datetime,
    settings: KubeSettings,
    *,
    metrics: MetricsSource | None = None,
) -> Snapshot:
    """One-shot read for ``wva-ray plan --from-cluster``: watches synced once, state read, nothing written.

    Credentials: ``settings.kubeconfig`` (or $KUBECONFIG / ~/.kube/config), else the in-cluster service account.
    """
    api = KubeApi(await asyncio.to_thread(load_configuration, settings.kubeconfig))
    reader = KubeReader(api, settings)
    try:
        await asyncio.to_thread(reader.start)
        state = await reader.read_async()
    finally:
        reader.stop()
    snapshot = state.snapshot(now)
    return await collect_metrics(snapshot, metrics) if metrics is not None else snapshot
