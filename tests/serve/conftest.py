"""Fixtures of the Serve integration tests: Serve on the session's real Ray (no HTTP proxy: handles only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def serve_started(ray_session: None) -> Iterator[None]:
    """Serve running on the session Ray cluster; the session fixture shuts it down with Ray."""
    from ray import serve

    serve.start(proxy_location="Disabled")
    yield


@pytest.fixture
def app_name(request: pytest.FixtureRequest, serve_started: None) -> Iterator[str]:
    """A unique Serve application name for one test; the app is deleted afterwards."""
    from ray import serve

    name = f"wva-{request.node.name}".replace("[", "-").replace("]", "")[:60]
    yield name
    serve.delete(name, _blocking=True)
