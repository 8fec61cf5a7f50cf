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


def start_ray_runtime(
    wiring: Wiring,
    options: CoordinatorOptions,
    name_prefix: str = "",
    placement: ShardPlacement = ShardPlacement(),
) -> RayRuntime:
    """Create the coordinator and the shard actors (each starts its own loop)."""
    coordinator_name = f"{name_prefix}{COORDINATOR_NAME}"
    coordinator_cls: Any = CoordinatorActor
    shard_cls: Any = ShardActor
    pinned: dict[str, Any] = {}
    if options.head_resource:
        pinned["resources"] = {options.head_resource: HEAD_RESOURCE_SHARE}
    coordinator = coordinator_cls.options(name=coordinator_name, namespace=NAMESPACE, **pinned).remote(wiring, options)
    shard_options: dict[str, Any] = {"namespace": NAMESPACE}
    if placement.spread:
        shard_options["scheduling_strategy"] = "SPREAD"
    if placement.resource:
        shard_options["resources"] = {placement.resource: placement.resource_share}
    shards = tuple(
        shard_cls.options(name=shard_actor_name(s, options.shards, name_prefix), **shard_options).remote(
            s, wiring, coordinator_name
        )
        for s in range(options.shards)
    )
    return RayRuntime(coordinator, shards, options)


def stop_ray_runtime(rt: RayRuntime, timeout_s: float = 30.0) -> None:
    """Let the coordinator finish its cycle in progress (no half-published plan), then remove every actor."""
    with contextlib.suppress(Exception):
        ray.get(rt.coordinator.stop.remote(), timeout=timeout_s)
    for shard in rt.shards:
        with contextlib.suppress(Exception):
            ray.kill(shard, no_restart=True)
    with contextlib.suppress(Exception):
        ray.kill(rt.coordinator, no_restart=True)
