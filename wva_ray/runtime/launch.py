"""Start and stop the Ray runtime: one coordinator and N shard actors, named, in the `wva` namespace. Does I/O
(Ray actor creation). The caller owns `ray.init`.

With `CoordinatorOptions.head_resource` set (KubeRay RayService mode, WVA_HEAD_RESOURCE) the coordinator
requests a small share of that custom resource, which only the Ray head advertises, so it runs in the head pod.
Shards are placed by `ShardPlacement`: spread over the nodes (Ray's SPREAD strategy) by default, optionally only
on nodes advertising a custom resource; a shard whose node dies is restarted by Ray on a surviving node. A shard
actor is named `wva-shard-<i>-of-<n>`: with rendezvous hashing that says which model groups it owns
(`core.sharding.assign(groups, n)[i]`), and the state API / dashboard says on which node it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

import ray

from wva_ray.runtime.coordinator_actor import COORDINATOR_NAME, NAMESPACE, CoordinatorActor, CoordinatorOptions
from wva_ray.runtime.shard_actor import ShardActor, shard_name
from wva_ray.runtime.wiring import Wiring

HEAD_RESOURCE_SHARE = 0.01  # of the head-only custom resource: pins the coordinator without using it up


@dataclass(frozen=True, slots=True)
class ShardPlacement:
    """Where shard actors go: `spread` over the nodes; with `resource`, only on nodes advertising it."""

    spread: bool = True
    resource: str | None = None
    resource_share: float = HEAD_RESOURCE_SHARE


def shard_actor_name(shard: int, shards: int, name_prefix: str = "") -> str:
    """`wva-shard-<i>-of-<n>`: the rendezvous bucket the actor owns."""
    return f"{name_prefix}{shard_name(shard)}-of-{shards}"


@dataclass(frozen=True)
class RayRuntime:
    coordinator: Any
    shards: tuple[Any, ...]
    options: CoordinatorOptions
    # what the actors were made from, so that a permanently dead one can be made again (`replace_coordinator`)
    wiring: Wiring | None = None
    name_prefix: str = ""
    placement: ShardPlacement = ShardPlacement()

    @property
    def coordinator_name(self) -> str:
        return f"{self.name_prefix}{COORDINATOR_NAME}"


def _create_coordinator(rt: RayRuntime) -> Any:
    coordinator_cls: Any = CoordinatorActor
    pinned: dict[str, Any] = {}
    if rt.options.head_resource:
        pinned["resources"] = {rt.options.head_resource: HEAD_RESOURCE_SHARE}
    return coordinator_cls.options(name=rt.coordinator_name, namespace=NAMESPACE, **pinned).remote(
        rt.wiring, rt.options
    )


def _create_shard(rt: RayRuntime, shard: int) -> Any:
    shard_cls: Any = ShardActor
    shard_options: dict[str, Any] = {"namespace": NAMESPACE}
    if rt.placement.spread:
        shard_options["scheduling_strategy"] = "SPREAD"
    if rt.placement.resource:
        shard_options["resources"] = {rt.placement.resource: rt.placement.resource_share}
    name = shard_actor_name(shard, rt.options.shards, rt.name_prefix)
    return shard_cls.options(name=name, **shard_options).remote(
        shard, rt.wiring, rt.coordinator_name, rt.options.log_level
    )


def start_ray_runtime(
    wiring: Wiring,
    options: CoordinatorOptions,
    name_prefix: str = "",
    placement: ShardPlacement = ShardPlacement(),
) -> RayRuntime:
    """Create the coordinator and the shard actors (each starts its own loop)."""
    rt = RayRuntime(None, (), options, wiring, name_prefix, placement)
    rt = dataclasses.replace(rt, coordinator=_create_coordinator(rt))
    return dataclasses.replace(rt, shards=tuple(_create_shard(rt, s) for s in range(options.shards)))


def replace_coordinator(rt: RayRuntime) -> RayRuntime:
    """Kill the coordinator for good and create it again under the same name (the shards look it up by name).
    For a coordinator Ray will not restart (restarts exhausted, failed constructor) or that stopped answering.
    Raises ValueError while Ray still holds the old name (call again later)."""
    with contextlib.suppress(Exception):
        ray.kill(rt.coordinator, no_restart=True)
    return dataclasses.replace(rt, coordinator=_create_coordinator(rt))


def replace_shard(rt: RayRuntime, shard: int) -> RayRuntime:
    """Kill shard actor `shard` for good and create it again (same name, same bucket)."""
    with contextlib.suppress(Exception):
        ray.kill(rt.shards[shard], no_restart=True)
    shards = list(rt.shards)
    shards[shard] = _create_shard(rt, shard)
    return dataclasses.replace(rt, shards=tuple(shards))


def stop_ray_runtime(rt: RayRuntime, timeout_s: float = 30.0) -> None:
    """Let the coordinator finish its cycle in progress (no half-published plan), then remove every actor."""
    with contextlib.suppress(Exception):
        ray.get(rt.coordinator.stop.remote(), timeout=timeout_s)
    for shard in rt.shards:
        with contextlib.suppress(Exception):
            ray.kill(shard, no_restart=True)
    with contextlib.suppress(Exception):
        ray.kill(rt.coordinator, no_restart=True)
