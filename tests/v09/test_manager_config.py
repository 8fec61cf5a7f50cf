"""WVA v0.9's `wva-manager-config` config.yaml (environment names as keys) as a settings file, and the meaning of
`PROMETHEUS_ALLOW_HTTP` (upstream-v0.9.md section 6); every error names the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from wva_ray.settings import SettingsError, load_settings


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_manager_config_keys_are_read(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "PROMETHEUS_BASE_URL: https://prom.monitoring:9090\n"
        "GLOBAL_OPT_INTERVAL: 15s\n"
        "CONTROLLER_INSTANCE: blue\n"
        "WVA_SCALE_TO_ZERO: 'true'\n"
        "ENABLE_HTTP2: 'true'\n"  # removed upstream: accepted, ignored
        "LEADER_ELECT: 'true'\n",
    )
    s = load_settings(file=path, environ={})
    assert s.prometheus.base_url == "https://prom.monitoring:9090"
    assert s.runtime.interval_s == 15
    assert s.kube.controller_instance == "blue"
    assert s.kube.scale_to_zero_fallback is True


def test_environment_beats_the_manager_config(tmp_path: Path) -> None:
    path = _file(tmp_path, "GLOBAL_OPT_INTERVAL: 15s\n")
    assert load_settings(file=path, environ={"GLOBAL_OPT_INTERVAL": "45s"}).runtime.interval_s == 45


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("GLOBAL_OPT_INTERVAL: soon\n", ("GLOBAL_OPT_INTERVAL", "soon")),
        ("NOT_A_WVA_KEY: 1\n", ("NOT_A_WVA_KEY",)),
        ("PROMETHEUS_ALLOW_HTTP: maybe\n", ("PROMETHEUS_ALLOW_HTTP", "maybe")),
    ],
)
def test_bad_manager_config_values_name_key_and_value(tmp_path: Path, text: str, names: tuple[str, ...]) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(file=_file(tmp_path, text), environ={})
    for name in names:
        assert name in str(err.value)


HTTP = "http://prom:9090"


@pytest.mark.parametrize(
    ("env", "ok"),
    [
        ({"PROMETHEUS_BASE_URL": HTTP}, True),  # unset: wva-ray allows http (upstream refuses)
        ({"PROMETHEUS_BASE_URL": HTTP, "PROMETHEUS_ALLOW_HTTP": "true"}, True),
        ({"PROMETHEUS_BASE_URL": HTTP, "PROMETHEUS_ALLOW_HTTP": "false"}, False),  # https only, as upstream
        ({"PROMETHEUS_BASE_URL": "https://prom", "PROMETHEUS_ALLOW_HTTP": "false"}, True),
        ({"PROMETHEUS_BASE_URL": HTTP, "PROMETHEUS_ALLOW_HTTP": "true", "PROMETHEUS_BEARER_TOKEN": "t"}, False),
        ({"PROMETHEUS_BASE_URL": HTTP, "PROMETHEUS_ALLOW_HTTP": "true", "PROMETHEUS_CA_CERT_PATH": "/ca"}, False),
        ({"PROMETHEUS_BASE_URL": "https://p", "PROMETHEUS_ALLOW_HTTP": "true", "PROMETHEUS_BEARER_TOKEN": "t"}, True),
    ],
)
def test_prometheus_allow_http(env: dict[str, str], ok: bool) -> None:
    if ok:
        load_settings(environ=env)
        return
    with pytest.raises(SettingsError) as err:
        load_settings(environ=env)
    assert "PROMETHEUS_ALLOW_HTTP" in str(err.value) and env["PROMETHEUS_BASE_URL"] in str(err.value)
