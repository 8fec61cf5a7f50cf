"""The synthetic fleet of the scale and soak benchmarks (testing.fleet): its formula metrics join the cluster's
pods (no decision held for missing metrics), VAs come and go on schedule, and status writes are classified."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from wva_ray.core.decide import decide
from wva_ray.core.sharding import model_groups
from wva_ray.testing.fleet import FleetCluster, FleetMetrics, FleetShape

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


class _At:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_fleet_metrics_join_every_pod_and_vas_come_and_go() -> None:
    shape = FleetShape(30, namespaces=3, replace_every_s=600.0, replace_fraction=0.2)
    cluster = FleetCluster(shape)
    snap = cluster.observe(NOW)
    assert len(snap.variant_autoscalings) == 30 and len(model_groups(snap)) == 10
    rows = asyncio.run(FleetMetrics(shape, _At(NOW)).pod_metrics(model_groups(snap)))
    assert {r.pod for r in rows} == {p.name for p in snap.pods}
    plan = decide(snap.model_copy(update={"metrics": rows}), NOW)
    assert not any(d.held for d in plan.decisions)
    assert cluster.write_status(plan.decisions, NOW) == 30
    assert cluster.stats()["writes"] == {"change": 30, "heartbeat": 0, "other": 0}
    assert cluster.write_status(plan.decisions, NOW + timedelta(seconds=30)) == 0  # unchanged: no write
    cluster.write_status(plan.decisions, NOW + timedelta(seconds=301))
    assert cluster.stats()["writes"]["heartbeat"] == 30
    later = cluster.observe(NOW + timedelta(seconds=700))  # a replacement slot passed
    names = {va.metadata.name for va in later.variant_autoscalings}
    assert len(names) == 30 and names != {va.metadata.name for va in snap.variant_autoscalings}
    assert cluster.stats()["generation"] == 1
