"""Fixtures shared by every test tier.

Real components (Ray, Prometheus, the Kubernetes control plane) are started once per test session by the
fixtures of their own test package; this file only holds what several packages share: the Ray cluster
and the path of ../shared.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: a property is about values, and Hypothesis' default 200 ms deadline turned a busy
# 2-core machine's scheduling into failures (speed is measured by benchmarks, not asserted by tests).
settings.register_profile("wva", deadline=None)
settings.load_profile("wva")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (spec, acceptance cases, traces, profiles)."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: the checkout must sit beside shared/")
    return SHARED


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One real local Ray cluster for the whole test session (ray.init costs 5-9 s here)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="wva")
    yield
    try:
        from ray import serve

        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()
