"""Fixtures for the packaging tests: the real helm binary and, for server-side dry runs, the local control
plane of tests/kube/conftest.py (re-exported here; pytest then starts one for this package's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kube.conftest import admin_api, kube_cluster, va_crd  # noqa: F401 - fixtures re-exported
from tests.packaging.tools import ToolMissing, helm_binary


@pytest.fixture(scope="session")
def helm_path() -> Path:
    try:
        return helm_binary()
    except ToolMissing as exc:
        pytest.fail(str(exc))
