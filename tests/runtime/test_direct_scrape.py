"""Direct-scrape mode end to end in one process: the view hands each shard its pods' endpoints, the shard
re-targets the scrape adapter and reads real emulated vLLM servers on loopback. Marker `integration`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from wva_ray.adapters.scrape import ScrapeMetricsSource
from wva_ray.runtime.coordinator_cycle import CycleCore
from wva_ray.runtime.cycle import ScrapeEndpoint
from wva_ray.runtime.local import LocalRuntime
from wva_ray.sim.emulator.metrics import Script, Signal
from wva_ray.sim.emulator.server import Emulator, PodSpec
from wva_ray.testing.memory_cluster import MemoryCluster, VariantSpec
from wva_ray.testing.remote import MemoryClusterClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class EndpointClient(MemoryClusterClient):
    """The in-memory cluster plus endpoints of emulated servers named like its pods."""

    def __init__(self, cluster: MemoryCluster, emu: Emulator) -> None:
        super().__init__(cluster, direct=False)
        self.cluster, self.emu = cluster, emu

    async def scrape_endpoints(self) -> list[ScrapeEndpoint]:
        out = []
        for target in self.cluster.targets.values():
            model = self.cluster.vas[f"{target.namespace}/{target.name}"]["spec"]["modelID"]
            for p in target.pods:
                live = self.emu.pods.get(p.name)
                if live is not None:
                    out.append(ScrapeEndpoint(target.namespace, p.name, model, live.url))
        return out


async def _scenario(
    cycles: int = 1, models: tuple[str, str] = ("hot", "cold")
) -> tuple[dict[str, int], dict[int, set[str]], dict[str, int]]:
    cluster = MemoryCluster(time.monotonic)
    emu = Emulator()
    try:
        for m, kv in zip(models, (0.95, 0.3), strict=True):
            for acc, cost in (("H100", 10.0), ("L40S", 3.0)):
                cluster.add_variant(VariantSpec(f"{m}-{acc.lower()}", m, acc, cost=cost, namespace="llm"))
            for target in [t for t in cluster.targets.values() if t.name.startswith(m)]:
                for p in target.pods:
                    script = Script(kv_cache_usage=Signal("fixed", kv), num_requests_waiting=Signal("fixed", 0.0))
                    await emu.start_pod(PodSpec(name=p.name, model=m, namespace="llm", script=script))
        client = EndpointClient(cluster, emu)
        source = ScrapeMetricsSource(min_scrape_interval_s=0.0)  # every cycle scrapes, however quick
        core = CycleCore(client, [client], 2, _Clock(), scrape=True)
        runtime = LocalRuntime(core, source, 30.0, 5.0)
        for _ in range(cycles):
            report = await runtime.run_once()
        works = await core.open()  # which shard owns which model (the split is the same every cycle)
        owners = {s: {g.model_id for g in w.groups} for s, w in works.items()}
        history = {pod: len(h.points) for (_, pod), h in source._history.items()}
        await source.close()
        assert report.missing_shards == ()
        return {d.name: d.desired_replicas for d in report.plan.decisions if not d.held}, owners, history
    finally:
        await emu.close()


def test_direct_scrape_reads_emulated_pods_and_scales_the_hot_model() -> None:
    desired, _, _ = asyncio.run(_scenario())
    assert desired == {"hot-h100": 1, "hot-l40s": 2, "cold-h100": 1, "cold-l40s": 1}


def test_shards_sharing_one_source_keep_each_others_scrape_history() -> None:
    """The `--no-ray` runtime gives every shard the same source; each cycle each shard re-targets it for its own
    groups. Every pod must keep the scrapes of earlier cycles (else no window ever spans two scrapes and the rates
    analyzer learned reads never exist)."""
    _, owners, history = asyncio.run(_scenario(cycles=3, models=("warm", "cool")))
    assert owners == {0: {"warm"}, 1: {"cool"}}  # one model per shard: both shards re-target the one source
    assert len(history) == 4 and all(n == 3 for n in history.values()), history
