"""Rendezvous (highest-random-weight) assignment of model groups to shards. Pure: no I/O, no clock.

Every (group, shard) pair gets a stable 64-bit weight from BLAKE2b; a group goes to the shard with the highest
weight. Changing the shard count from N to N+1 moves only the groups whose new shard wins, about 1/(N+1) of them,
and every process computes the same assignment without talking to the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from wva_ray.core.ports import ModelGroupRef


def group_key(group: ModelGroupRef) -> str:
    """The text a group is hashed by (`namespace/modelID`)."""
    return f"{group.namespace}/{group.model_id}"


def _weight(key: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(group: ModelGroupRef, shards: int) -> int:
    """The shard index (0..shards-1) that owns `group`."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    key = group_key(group)
    return max(range(shards), key=lambda s: _weight(key, s))


def assign(groups: Iterable[ModelGroupRef], shards: int) -> Mapping[int, tuple[ModelGroupRef, ...]]:
    """Every shard index (also those with no group) mapped to its groups, sorted by key."""
    out: dict[int, list[ModelGroupRef]] = {s: [] for s in range(shards)}
    for group in sorted(set(groups), key=group_key):
        out[shard_of(group, shards)].append(group)
    return {s: tuple(gs) for s, gs in out.items()}
