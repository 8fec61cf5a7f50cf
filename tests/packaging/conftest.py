"""Fixtures for the packaging tests: the real helm binary and, for server-side dry runs, the local control
plane of tests/kube/conftest.py (re-exported here; pytest then starts one for this package's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kube.conftest import (  # noqa: F401 - fixtures re-exported
    admin_api,
    fake_kubelet,
    kube_cluster,
    namespace,
    system_namespace,
    va_crd,
)
from tests.packaging.tools import ToolMissing, helm_binary


@pytest.fixture(scope="session")
def helm_path() -> Path:
    try:
        return helm_binary()
    except ToolMissing as exc:
        pytest.fail(str(exc))
