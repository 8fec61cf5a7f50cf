"""Fixtures for the runtime tests: the real local Kubernetes control plane of tests/kube (reused, not copied),
for the two-instance `wva-ray run` test, and Serve without its HTTP proxy (tests/serve) for the RayService app."""

from tests.kube.conftest import (  # noqa: F401 - re-exported fixtures
    admin_api,
    fake_kubelet,
    kube_cluster,
    namespace,
    system_namespace,
    va_crd,
)
from tests.serve.conftest import serve_started  # noqa: F401 - re-exported fixture
