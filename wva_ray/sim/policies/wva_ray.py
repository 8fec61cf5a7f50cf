"""wva-ray itself in the simulator: builds a real `Snapshot` from the observation and calls the pure core
`wva_ray.core.decide(snapshot, now)`, actuating directly (actuation mode `direct`) every 30 s.

The VA status (previous desired count and when it was first published) and the plan's carried state are
kept between calls exactly as the runtime keeps them in CR status. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from wva_ray.api.snapshot import Snapshot
from wva_ray.core import decide
from wva_ray.sim.observe import Observation, VariantView

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACE = "sim"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WvaRay:
    def __init__(
        self, name: str = "wva-ray", analyzer: str = "", interval_s: float = 30.0, extra: dict[str, Any] | None = None
    ) -> None:
        self.name = name
        self.analyzer = analyzer
        self.interval_s = interval_s
        self.extra = dict(extra or {})
        self._desired: dict[str, int] = {}
        self._since: dict[str, datetime] = {}
        self._state: dict[str, Any] = {}
        self.last_plan_reasons: dict[str, str] = {}

    def _va(self, v: VariantView) -> dict[str, Any]:
        va: dict[str, Any] = {
            "apiVersion": "llmd.ai/v1alpha1",
            "kind": "VariantAutoscaling",
            "metadata": {
                "name": v.name,
                "namespace": NAMESPACE,
                "labels": {"inference.optimization/acceleratorName": v.profile.accelerator},
            },
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": v.name},
                "modelID": v.model,
                "variantCost": f"{v.cost_per_replica:.4f}",
                "minReplicas": v.min_replicas,
                "maxReplicas": v.max_replicas,
            },
        }
        if v.name in self._desired:
            alloc = {"numReplicas": self._desired[v.name], "accelerator": v.profile.accelerator}
            if v.name in self._since:
                alloc["sinceTime"] = _iso(self._since[v.name])
            va["status"] = {"desiredOptimizedAlloc": alloc}
        return va

    def snapshot(self, obs: Observation, priorities: Mapping[str, int]) -> Snapshot:
        now = EPOCH + timedelta(seconds=obs.now_s)
        vas, targets, pods, metrics = [], [], [], []
        for v in obs.variants:
            va = self._va(v)
            va["spec"]["priority"] = priorities.get(v.model, 100)
            vas.append(va)
            prof = v.profile
            targets.append(
                {
                    "namespace": NAMESPACE,
                    "name": v.name,
                    "specReplicas": v.current,
                    "statusReplicas": v.current,
                    "readyReplicas": v.ready,
                    "gpusPerReplica": prof.gpus,
                    "vllmArgs": [
                        "--max-num-seqs",
                        str(prof.max_num_seqs),
                        "--max-num-batched-tokens",
                        str(prof.max_num_batched_tokens),
                    ],
                }
            )
            for p in v.pods:
                pods.append({"namespace": NAMESPACE, "name": p.name, "target": v.name, "ready": p.ready})
                if p.kv_max_1m is None or p.queue_max_1m is None:
                    continue
                row: dict[str, Any] = {
                    "namespace": NAMESPACE,
                    "modelName": v.model,
                    "pod": p.name,
                    "kvCacheUsage": p.kv_max_1m,
                    "queueLength": p.queue_max_1m,
                    "numGpuBlocks": prof.num_gpu_blocks,
                    "blockSize": prof.block_size,
                }
                if p.avg_input_tokens_5m is not None:
                    row["avgInputTokens"] = p.avg_input_tokens_5m
                if p.avg_output_tokens_5m is not None:
                    row["avgOutputTokens"] = p.avg_output_tokens_5m
                if p.arrival_rate_1m is not None:
                    row["arrivalRate"] = p.arrival_rate_1m
                if p.running_last is not None:
                    row["running"] = p.running_last
                metrics.append(row)
        saturation: dict[str, Any] = {"default": {"analyzerName": self.analyzer, **self.extra}}
        data: dict[str, Any] = {
            "now": _iso(now),
            "config": {"saturation": saturation},
            "variantAutoscalings": vas,
            "scaleTargets": targets,
            "pods": pods,
            "metrics": metrics,
            "requestCounts": [
                {"namespace": NAMESPACE, "modelName": m.name, "count": m.requests_10m} for m in obs.models
            ],
        }
        if obs.gpu_free is not None:
            data["gpuAvailable"] = obs.gpu_free
        if self._state:
            data["state"] = self._state
        return Snapshot.model_validate(data)

    def decide(self, obs: Observation) -> Mapping[str, int]:
        priorities = {m.name: m.priority for m in obs.models}
        snap = self.snapshot(obs, priorities)
        plan = decide(snap, snap.now)
        self._state = plan.state.model_dump(mode="json", by_alias=True)
        out: dict[str, int] = {}
        for d in plan.decisions:
            if d.held and d.desired_replicas == d.current_replicas:
                continue
            if self._desired.get(d.name) != d.desired_replicas:
                self._since[d.name] = snap.now
            self._desired[d.name] = d.desired_replicas
            self.last_plan_reasons[d.name] = d.reason
            out[d.name] = d.desired_replicas
        return out
