"""`wva-ray run` and `wva-ray plan --from-cluster` read the same settings: both build one `Settings` from the same
sources, and both hand the same `kube` and `prometheus` sections to the same adapters (the reader and the
Prometheus metrics source). Every kube and prometheus setting is set to a non-default value through its
environment variable, then the adapters' constructors are intercepted on both paths (no cluster, no server)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import wva_ray.adapters.kube.live_snapshot as live_snapshot
import wva_ray.cli as cli
import wva_ray.runtime.kube_wiring as kube_wiring
from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.api.snapshot import Snapshot
from wva_ray.runtime.kube_wiring import KubeWiring
from wva_ray.settings import SETTINGS, Settings, env_names, load_settings

# One non-default value per environment variable of the kube and prometheus sections.
OBSERVING_ENV = {
    "KUBECONFIG": "/etc/wva/kubeconfig",
    "WATCH_NAMESPACE": "llm",
    "POD_NAMESPACE": "wva-system",
    "CONTROLLER_INSTANCE": "blue",
    "SATURATION_CONFIG_MAP_NAME": "sat",
    "QUEUEING_MODEL_CONFIG_MAP_NAME": "qm",
    "WVA_SCALE_TO_ZERO_CONFIG_MAP": "stz",
    "WVA_SERVICE_CLASSES_CONFIG_MAP": "classes",
    "WVA_SLO_PROFILES_CONFIG_MAP": "profiles",
    "WVA_SCALE_TO_ZERO": "true",
    "WVA_NODE_SELECTOR": "pool=gpu",
    "PROMETHEUS_BASE_URL": "https://prom.example:9091",
    "PROMETHEUS_BEARER_TOKEN": "t0ken",
    "PROMETHEUS_TOKEN_PATH": "/var/run/token",
    "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY": "true",
    "PROMETHEUS_CA_CERT_PATH": "/etc/ca.crt",
    "PROMETHEUS_CLIENT_CERT_PATH": "/etc/tls.crt",
    "PROMETHEUS_CLIENT_KEY_PATH": "/etc/tls.key",
    "PROMETHEUS_SERVER_NAME": "prom.internal",
    "PROMETHEUS_ALLOW_HTTP": "false",
    "PROMETHEUS_TIMEOUT_S": "4",
    "PROMETHEUS_RETRIES": "1",
    "PROMETHEUS_BACKOFF_S": "0.5",
    "PROMETHEUS_BACKOFF_MAX_S": "3",
    "PROMETHEUS_JITTER_RATIO": "0.2",
    "PROMETHEUS_STALE_AFTER_S": "90",
    "PROMETHEUS_SLO_SIGNALS": "false",
    "PROMETHEUS_LEARNED_SIGNALS": "true",
    "PROMETHEUS_QUERY_CONCURRENCY": "3",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in OBSERVING_ENV.items():
        monkeypatch.setenv(name, value)
    return OBSERVING_ENV


def _plan_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, KubeSettings, PrometheusSettings]:
    """What `plan --from-cluster` builds: its Settings and the sections its reader and metrics source get."""
    seen: dict[str, Any] = {}
    real_plan_settings = cli.plan_settings

    def plan_settings(*args: Any) -> Settings:
        seen["settings"] = real_plan_settings(*args)
        return seen["settings"]

    async def snapshot_from_cluster(now: datetime, kube: KubeSettings, *, metrics: Any = None) -> Snapshot:
        seen["kube"], seen["prometheus"] = kube, metrics.settings
        return Snapshot(now=now)

    monkeypatch.setattr(cli, "plan_settings", plan_settings)
    monkeypatch.setattr(live_snapshot, "snapshot_from_cluster", snapshot_from_cluster)
    result = CliRunner().invoke(cli.app, ["plan", "--from-cluster"])
    assert result.exit_code == 0, result.output
    return seen["settings"], seen["kube"], seen["prometheus"]


class _Reader:
    seen: ClassVar[list[KubeSettings]] = []

    def __init__(self, api: Any, settings: KubeSettings) -> None:
        self.seen.append(settings)

    def start(self) -> _Reader:
        return self

    def va_object(self, namespace: str, name: str) -> None:
        return None


def _run_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, KubeSettings, PrometheusSettings]:
    """What `wva-ray run` builds: its Settings (no flags given) and what its wiring hands the same adapters."""
    kubeconfigs: list[str | None] = []
    monkeypatch.setattr(kube_wiring, "KubeReader", _Reader)
    monkeypatch.setattr(kube_wiring, "load_configuration", lambda path: kubeconfigs.append(path) or object())
    monkeypatch.setattr(kube_wiring, "KubeApi", lambda configuration: object())
    settings = load_settings({}, None)
    wiring = KubeWiring(settings)
    wiring.cluster_view()
    source: Any = wiring.metrics_source()
    try:
        assert kubeconfigs == [settings.kube.kubeconfig]
        return settings, _Reader.seen[-1], source.settings
    finally:
        source.close()


def test_run_and_plan_read_the_same_settings(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    plan_settings, plan_kube, plan_prometheus = _plan_reads(monkeypatch)
    run_settings, run_kube, run_prometheus = _run_reads(monkeypatch)
    assert plan_settings == run_settings  # one tree, one set of sources
    assert plan_kube == run_kube == run_settings.kube
    assert plan_prometheus == run_prometheus == run_settings.prometheus


def test_every_observing_setting_reaches_the_adapters(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No inert knob: each kube / prometheus variable changes what both commands hand the adapters."""
    observing = [s for s in SETTINGS if s.section in ("kube", "prometheus")]
    assert {s.env[0] for s in observing} == set(environment), "OBSERVING_ENV must give every kube/prometheus setting"
    _, kube, prometheus = _plan_reads(monkeypatch)
    sections = {"kube": (kube, KubeSettings()), "prometheus": (prometheus, PrometheusSettings())}
    inert = [
        s.env[0]
        for s in observing
        if getattr(sections[s.section][0], s.field) == getattr(sections[s.section][1], s.field)
    ]
    assert inert == []
    assert kube.node_selector == {"pool": "gpu"} and prometheus.token_path == Path("/var/run/token")


def test_node_selector_is_honoured_by_both(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The disagreement that started this: WVA_NODE_SELECTOR used to reach only `plan --from-cluster`."""
    _, plan_kube, _ = _plan_reads(monkeypatch)
    _, run_kube, _ = _run_reads(monkeypatch)
    assert plan_kube.node_selector == run_kube.node_selector == {"pool": "gpu"}
