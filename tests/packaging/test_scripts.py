"""Shell scripts owned by packaging pass shellcheck (installed by scripts/setup.d/30-helm.sh)."""

from __future__ import annotations

import shutil

import pytest

from tests.packaging.tools import REPO, run


@pytest.mark.parametrize(
    "path", ["scripts/setup.d/25-kubectl.sh", "scripts/setup.d/30-helm.sh", "helm/sync-from-repo.sh"]
)
def test_shellcheck_clean(path: str) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck missing: run scripts/setup.d/30-helm.sh"
    result = run([shellcheck, REPO / path])
    assert result.ok, result.describe()


def test_helm_setup_is_idempotent_and_fast_when_cached() -> None:
    """Re-running the setup script with helm already cached does nothing but verify it (no network)."""
    result = run(["bash", REPO / "scripts/setup.d/30-helm.sh"], timeout_s=30)
    assert result.ok, result.describe()
    assert "cached:" in result.stdout, result.describe()
