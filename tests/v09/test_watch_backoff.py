"""A watch on a resource type the server does not serve (no VA CRD, no KEDA CRD) backs off exponentially up to
MAX_ABSENT_BACKOFF_S and logs once per state change (adapters/kube/cache.py), instead of a warning every 4 s."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from wva_ray.adapters.kube.cache import MAX_ABSENT_BACKOFF_S, MAX_BACKOFF_S, WatchCache
from wva_ray.adapters.kube.client import KubeApiError, KubeNotFound

PATH = "/apis/llmd.ai/v1alpha1/variantautoscalings"


class _Api:
    """`get` answers from a script of exceptions, then lists nothing; `watch` ends at once."""

    def __init__(self, script: list[Exception | None]) -> None:
        self.script = script
        self.watches = 0

    def get(self, path: str, query: Any = None) -> dict[str, Any]:
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return {"items": [], "metadata": {"resourceVersion": "1"}}

    def watch(self, path: str, rv: str | None, **_: Any) -> Iterator[dict[str, Any]]:
        self.watches += 1
        return iter(())


class _Stop:
    """Records the backoffs instead of sleeping; stops after `n` waits or once the script is used up."""

    def __init__(self, api: _Api, n: int) -> None:
        self.api, self.n, self.waits = api, n, list[float]()

    def is_set(self) -> bool:
        return len(self.waits) >= self.n or self.api.watches > 0

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return len(self.waits) >= self.n

    def set(self) -> None:
        self.n = 0


def _run(script: list[Exception | None], n: int) -> list[float]:
    api = _Api(script)
    cache = WatchCache(api, PATH)  # type: ignore[arg-type]
    stop = _Stop(api, n)
    cache._stop = stop  # type: ignore[assignment]
    cache._run()
    return stop.waits


def _not_found() -> KubeNotFound:
    return KubeNotFound(404, "GET", PATH, "the server could not find the requested resource")


def test_absent_resource_backs_off_to_the_cap_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wva_ray.adapters.kube.cache")
    waits = _run([_not_found() for _ in range(20)], n=12)
    assert waits[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert all(b >= a for a, b in itertools.pairwise(waits))
    assert waits[-1] == MAX_ABSENT_BACKOFF_S
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not served" in warnings[0].getMessage()


def test_transient_errors_keep_the_short_cap_and_log_each_change(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wva_ray.adapters.kube.cache")
    boom = [KubeApiError(503, "GET", PATH, "unavailable") for _ in range(8)]
    waits = _run([*boom, _not_found(), None], n=50)
    assert max(waits[:8]) == MAX_BACKOFF_S
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed" in m for m in messages) == 2  # the 503 state, then the 404 state
    assert any("recovered" in m for m in messages)
