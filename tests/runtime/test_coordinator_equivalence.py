"""The coordinator's fast path decides what the straightforward one decides.

On a generated fleet whose load moves every cycle, the coordinator as the actor runs it (several shards, work and
proposals through the wire codec, the GC collector, a long-lived gauge exporter) and the straightforward one
(one shard, objects handed over as they are, CPython's GC, no exporter) publish the same decisions and state,
cycle after cycle, and the long-lived exporter shows the gauges a fresh one shows for the reference plan.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wva_ray.adapters.gauges import GaugeExporter
from wva_ray.api.plan import Action, Plan
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.runtime.cycle import ShardProposal
from wva_ray.runtime.gc_pause import CycleCollector
from wva_ray.runtime.shard_codec import ProposalEncoder, ProposalMirror, SentVas, ShardVaCache
from wva_ray.runtime.shard_cycle import run_shard_step
from wva_ray.testing.fleet import FleetMetrics, FleetShape, FleetWiring, StepClock


def _gauges(g: GaugeExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The labelled gauge samples a plan sets (not the shard lag, which the cycle sets, nor `_created` times)."""
    out = {}
    for fam in text_string_to_metric_families(g.render().decode()):
        if fam.type == "gauge" and not fam.name.endswith("_created"):
            for s in fam.samples:
                if s.labels and s.name != "wva_shard_lag_seconds":
                    out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def _fast_cycle(
    core: CycleCore,
    metrics: FleetMetrics,
    sent: dict[int, SentVas],
    caches: dict[int, ShardVaCache],
    encoders: dict[int, ProposalEncoder],
    mirrors: dict[int, ProposalMirror],
) -> Plan:
    works = await core.open()
    proposals: dict[int, ShardProposal] = {}
    for s, work in works.items():
        shard_work = caches[s].decode(sent[s].encode(work, caches[s].incarnation))
        proposal = await run_shard_step(shard_work, metrics, shard_work.snapshot.now)
        proposals[s] = mirrors[s].decode(encoders[s].encode(proposal), work)
        encoders[s].settled(True)
    return (await core.close(proposals)).plan


async def _plain_cycle(core: CycleCore, metrics: FleetMetrics) -> Plan:
    works = await core.open()
    proposals = {s: await run_shard_step(w, metrics, w.snapshot.now) for s, w in works.items()}
    return (await core.close(proposals)).plan


@pytest.mark.parametrize(
    ("shards", "full_every"),
    [pytest.param(2, 1, id="2-shards-full-gc-every-cycle"), pytest.param(3, 2, id="3-shards-full-gc-every-2nd")],
)
def test_the_coordinators_fast_path_publishes_the_plain_paths_plan(shards: int, full_every: int) -> None:
    shape = FleetShape(90, namespaces=7, churn=0.35)
    clock = StepClock(shape.period_s)
    metrics = FleetMetrics(shape, clock)
    gauges = GaugeExporter("ci", interval_s=30.0)
    fast_wiring, plain_wiring = FleetWiring(shape), FleetWiring(shape)  # each its own cluster and status
    collector = CycleCollector(full_every)
    fast = CycleCore(fast_wiring.cluster_view(), fast_wiring.publishers(), shards, clock, gauges, collector=collector)
    plain = CycleCore(plain_wiring.cluster_view(), plain_wiring.publishers(), 1, clock)
    codec = [{s: kind() for s in range(shards)} for kind in (SentVas, ShardVaCache, ProposalEncoder, ProposalMirror)]
    actions = set()
    try:
        for step in range(1, 6):
            clock.step = step
            got = asyncio.run(_fast_cycle(fast, metrics, *codec))  # type: ignore[arg-type]
            want = asyncio.run(_plain_cycle(plain, metrics))
            assert [d.model_dump() for d in got.decisions] == [d.model_dump() for d in want.decisions]
            assert got.state == want.state
            fresh = GaugeExporter("ci", interval_s=30.0)
            fresh.apply(want.decisions)
            assert _gauges(gauges) == _gauges(fresh)
            actions |= {d.action for d in want.decisions}
    finally:
        gc.unfreeze()
    assert Action.SCALE_UP in actions  # the load moved: the plans compared are not all no-change
