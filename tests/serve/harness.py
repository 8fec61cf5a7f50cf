"""Helpers of the Serve integration tests: replica counts, bounded polling and a closed-loop load generator."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ray import serve
from ray.serve._private.common import ReplicaState


def running_replicas(app: str, deployment: str) -> int:
    status = serve.status().applications.get(app)
    if status is None or deployment not in status.deployments:
        return 0
    return int(status.deployments[deployment].replica_states.get(ReplicaState.RUNNING, 0))


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.25) -> float:
    """Poll until `predicate()`; returns the seconds it took; fails naming `what` after `timeout_s`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(poll_s)


def observe(app: str, deployment: str, duration_s: float, poll_s: float = 0.25) -> list[int]:
    """Running replica counts sampled for `duration_s`."""
    counts: list[int] = []
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        counts.append(running_replicas(app, deployment))
        time.sleep(poll_s)
    return counts


class ClosedLoopLoad:
    """`concurrency` threads each sending one request at a time through a DeploymentHandle until stopped."""

    def __init__(self, handle: Any, concurrency: int) -> None:
        self._handle = handle
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(concurrency)]
        self.completed = 0
        self.errors: list[str] = []

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                self._handle.remote().result(timeout_s=30)
                self.completed += 1
            except Exception as err:  # recorded and asserted on by the test
                self.errors.append(f"{type(err).__name__}: {err}")
                return

    def __enter__(self) -> ClosedLoopLoad:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=35)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


POLICY = "wva_ray.serve.policy:WvaSaturationPolicy"
DEPLOYMENT = "FakeLLM"


def fast_autoscaling(policy_kwargs: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Serve delays shortened for a test (replicas push stats every 0.5 s; decisions act at once)."""
    config: dict[str, Any] = {
        "min_replicas": 1,
        "max_replicas": 4,
        "initial_replicas": 1,
        "metrics_interval_s": 0.5,
        "look_back_period_s": 2.0,
        "upscale_delay_s": 0.0,
        "downscale_delay_s": 1.0,
        "target_ongoing_requests": 1000,  # Serve's default policy would never scale on this load: ours must
        "policy": {"policy_function": POLICY, "policy_kwargs": policy_kwargs},
    }
    config.update(overrides)
    return config


def deploy(app_name: str, autoscaling: dict[str, Any], **fake_llm: Any) -> Any:
    from ray import serve

    from wva_ray.demo.serve_app import FakeLLM

    app = FakeLLM.options(autoscaling_config=autoscaling).bind(**fake_llm)
    return serve.run(app, name=app_name, route_prefix=None)
