"""Ray Serve on REAL vLLM engines: a deployment whose replicas each run a real engine (`testing.vllm_serve`),
autoscaled 1 -> 2 -> 1 by wva-ray's Serve policy (mode `replica_stats`) from the engines' own KV and queue
gauges. The first replica adopts the session's warm engine; the second is a real engine start inside the new
replica. Load: 24 concurrent requests through the deployment handle (100 prompt tokens, 64 output tokens).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serve.harness import fast_autoscaling, running_replicas, wait_until
from tests.vllm.conftest import READY_TIMEOUT_S, SPEC
from wva_ray.testing.vllm_engine import VllmEngine
from wva_ray.testing.vllm_load import prompt_ids

pytestmark = [pytest.mark.vllm, pytest.mark.integration, pytest.mark.timeout(900)]

DEPLOYMENT = "VllmLLM"


class HandleLoad:
    """`concurrency` threads, each sending one request at a time through the handle until stopped."""

    def __init__(self, handle: Any, concurrency: int) -> None:
        self._handle = handle
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._worker, args=(i,), daemon=True) for i in range(concurrency)]
        self.by_engine: dict[str, int] = {}
        self.pgids: set[int] = set()
        self.errors: list[str] = []

    def _worker(self, i: int) -> None:
        rng = random.Random(i)
        while not self._stop.is_set():
            try:
                out = self._handle.remote({"prompt": prompt_ids(100, rng, 2048), "max_tokens": 64}).result(
                    timeout_s=300
                )
            except Exception as err:  # recorded and asserted on by the test
                self.errors.append(f"{type(err).__name__}: {err}")
                return
            self.by_engine[out["engine"]] = self.by_engine.get(out["engine"], 0) + 1
            if out.get("pgid"):
                self.pgids.add(int(out["pgid"]))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=310)


@pytest.fixture
def serve_app(ray_session: None, warm_engine: VllmEngine) -> Iterator[str]:
    import ray
    from ray import serve

    from wva_ray.testing.vllm_serve import CLAIMS_ACTOR, EngineClaims

    serve.start(proxy_location="Disabled")
    claims = EngineClaims.options(name=CLAIMS_ACTOR, namespace="wva").remote([warm_engine.url])  # type: ignore[attr-defined]
    name = "wva-vllm-serve"
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            serve.delete(name, _blocking=True)
        ray.kill(claims)


def test_serve_policy_autoscales_replicas_running_real_engines(serve_app: str, warm_engine: VllmEngine) -> None:
    from ray import serve

    from wva_ray.testing.vllm_serve import CLAIMS_ACTOR, VllmProxyReplica

    deployment = serve.deployment(name=DEPLOYMENT, max_ongoing_requests=64, ray_actor_options={"num_cpus": 0})(
        VllmProxyReplica
    )
    autoscaling = fast_autoscaling(
        {"mode": "replica_stats", "max_metric_age_s": 5.0}, max_replicas=2, downscale_delay_s=5.0
    )
    handle = serve.run(
        deployment.options(autoscaling_config=autoscaling).bind(SPEC, CLAIMS_ACTOR), name=serve_app, route_prefix=None
    )
    load = HandleLoad(handle, 24)
    load.start()
    try:
        wait_until(lambda: running_replicas(serve_app, DEPLOYMENT) == 2, READY_TIMEOUT_S + 60, "2 running replicas")
        wait_until(lambda: len(load.by_engine) == 2 or bool(load.errors), 120, "traffic on both engines")
    finally:
        load.stop()
    assert not load.errors, load.errors[:3]
    assert len(load.by_engine) == 2 and min(load.by_engine.values()) >= 5, load.by_engine
    wait_until(lambda: running_replicas(serve_app, DEPLOYMENT) == 1, 180, "a scale-down to 1 replica")
    assert warm_engine.running
    # the stopped replica's engine must be gone (its replica stops it; kill what might be left to be sure)
    for pgid in load.pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
