"""A real three-node Ray cluster on this machine for the multi-node tests (`pytest -k multinode`): a head that
advertises `wva-head` (the coordinator and the in-memory API server are pinned there) and two worker nodes
that advertise `wva-shard` (the shards spread over them). One CPU per node. Started once for the package and
stopped afterwards, killing only its own processes (`wva_ray.testing.ray_cluster`).

This process can be the driver of one Ray cluster at a time: if the session's single-node Ray
(`tests/conftest.py::ray_session`) is already up, it is shut down here and started again afterwards with the same
arguments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from wva_ray.testing.ray_cluster import LocalRayCluster

HEAD_RESOURCE = "wva-head"
SHARD_RESOURCE = "wva-shard"
WORKERS = ("w1", "w2")


@pytest.fixture(scope="package")
def multinode_cluster() -> Iterator[LocalRayCluster]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    had_session = ray.is_initialized()
    if had_session:
        ray.shutdown()
    cluster = LocalRayCluster(num_cpus_per_node=1)
    try:
        cluster.start_head(resources={HEAD_RESOURCE: 1})
        cluster.add_workers({name: {SHARD_RESOURCE: 100} for name in WORKERS})
        ray.init(address=cluster.address, namespace="wva", log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
        if had_session:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="wva")
