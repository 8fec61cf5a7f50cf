"""The settings tree (`wva_ray.settings`): precedence (flags > env > file > defaults), upstream environment names,
errors that name the source and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from wva_ray.settings import SETTINGS, UPSTREAM_ENV, Settings, SettingsError, env_names, load_settings


@pytest.mark.parametrize(
    ("env", "expected_s"),
    [
        pytest.param({"GLOBAL_OPT_INTERVAL": "30s"}, 30.0, id="go-seconds"),
        pytest.param({"GLOBAL_OPT_INTERVAL": "1m30s"}, 90.0, id="go-compound"),
        pytest.param({"GLOBAL_OPT_INTERVAL": "5"}, 5.0, id="plain-number"),
        pytest.param({}, 30.0, id="default"),
    ],
)
def test_interval_from_upstream_env(env: dict[str, str], expected_s: float) -> None:
    assert load_settings(environ=env).runtime.interval_s == expected_s


def test_upstream_env_names_are_read(tmp_path: Path) -> None:
    s = load_settings(
        environ={
            "PROMETHEUS_BASE_URL": "http://prom:9090",
            "PROMETHEUS_TOKEN_PATH": str(tmp_path / "token"),
            "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY": "true",
            "PROMETHEUS_CA_CERT_PATH": "/ca.pem",
            "PROMETHEUS_SERVER_NAME": "prom.internal",
            "WVA_SCALE_TO_ZERO": "true",
            "CONTROLLER_INSTANCE": "a",
            "WATCH_NAMESPACE": "llm",
            "POD_NAMESPACE": "wva",
            "SATURATION_CONFIG_MAP_NAME": "sat",
            "WVA_SHARDS": "4",
            "WVA_ACTUATION": "direct",
        }
    )
    p, k, r = s.prometheus, s.kube, s.runtime
    assert (p.base_url, p.token_path, p.tls_insecure_skip_verify) == ("http://prom:9090", tmp_path / "token", True)
    assert (p.ca_cert_path, p.server_name) == (Path("/ca.pem"), "prom.internal")
    assert (k.scale_to_zero_fallback, k.controller_instance, k.watch_namespace) == (True, "a", "llm")
    assert (k.pod_namespace, k.saturation_config_map, r.shards, r.actuation) == ("wva", "sat", 4, "direct")


def test_defaults_without_environment() -> None:
    s = load_settings(environ={})
    assert s == Settings.model_validate({})
    assert s.prometheus.base_url is None and s.kube.watch_namespace is None
    assert s.kube.pod_namespace == "workload-variant-autoscaler-system" and s.kube.node_selector == {}


def test_names_are_case_insensitive_and_empty_means_unset() -> None:
    s = load_settings(environ={"wva_shards": "3", "WATCH_NAMESPACE": "", "CONTROLLER_INSTANCE": " "})
    assert (s.runtime.shards, s.kube.watch_namespace, s.kube.controller_instance) == (3, None, None)


def test_node_selector_and_older_aliases() -> None:
    s = load_settings(
        environ={
            "WVA_NODE_SELECTOR": "a=b, c=d",
            "WVA_STATUS_HEARTBEAT_SECONDS": "60",
            "LEADER_ELECTION_ID": "72dd1cf1.llm-d.ai",
        }
    )
    assert s.kube.node_selector == {"a": "b", "c": "d"}
    assert (s.runtime.status_heartbeat_s, s.runtime.lease_name) == (60.0, "72dd1cf1.llm-d.ai")
    # the primary name wins over the alias
    s = load_settings(environ={"WVA_STATUS_HEARTBEAT_S": "5m", "WVA_STATUS_HEARTBEAT_SECONDS": "60"})
    assert s.runtime.status_heartbeat_s == 300.0


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("shards: 3\ninterval_s: 10s\nactuation: serve\nkube:\n  watch_namespace: llm\n")
    env = {"WVA_SHARDS": "5"}
    s = load_settings(flags={"interval_s": 7, "actuation": None}, file=f, environ=env)
    assert s.runtime.interval_s == 7.0  # flag
    assert s.runtime.shards == 5  # env over file
    assert s.runtime.actuation == "serve"  # file (the None flag is ignored)
    assert s.kube.watch_namespace == "llm"  # a section mapping in the file


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param({"WVA_ACTUATION": "magic"}, r"WVA_ACTUATION='magic': Input should be 'hpa'", id="literal"),
        pytest.param({"GLOBAL_OPT_INTERVAL": "soon"}, r"GLOBAL_OPT_INTERVAL='soon': invalid duration 'soon'", id="go"),
        pytest.param({"WVA_SHARDS": "many"}, r"WVA_SHARDS='many': Input should be a valid integer", id="int"),
        pytest.param(
            {"WVA_SCALE_TO_ZERO": "maybe"}, r"WVA_SCALE_TO_ZERO='maybe': Input should be a valid bool", id="b"
        ),
        pytest.param({"WVA_NODE_SELECTOR": "oops"}, r"WVA_NODE_SELECTOR='oops': expected key=value", id="selector"),
        pytest.param({"PROMETHEUS_RETRIES": "99"}, r"PROMETHEUS_RETRIES='99': Input should be less than", id="range"),
    ],
)
def test_bad_env_value_names_the_variable_and_the_value(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(environ=env)


def test_bad_file_and_flag_values_name_their_source(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("- a\n")
    with pytest.raises(SettingsError, match="expected a mapping"):
        load_settings(file=f, environ={})
    f.write_text("shards: 0\n")
    with pytest.raises(SettingsError, match=r"settings file .*bad.yaml: shards=0: Input should be greater"):
        load_settings(file=f, environ={})
    with pytest.raises(SettingsError, match=r"flag interval_s='x'"):
        load_settings({"interval_s": "x"}, environ={})


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("shardz: 3\n")
    with pytest.raises(SettingsError, match="shardz"):
        load_settings(file=f, environ={})
    f.write_text("runtime:\n  shardz: 3\n")
    with pytest.raises(SettingsError, match=r"runtime\.shardz"):
        load_settings(file=f, environ={})


def test_serve_actuation_needs_ray() -> None:
    with pytest.raises(SettingsError, match=r"actuation 'serve' needs the Ray runtime.*use_ray is false"):
        load_settings({"actuation": "serve", "use_ray": False}, environ={})
    assert load_settings({"actuation": "serve"}, environ={}).runtime.use_ray


def test_name_table_is_one_to_one() -> None:
    """Every field of every section has one flat key and its own environment names; upstream ones are kept."""
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    names = [n for s in SETTINGS for n in s.env]
    assert len(names) == len(set(names))
    assert env_names() >= UPSTREAM_ENV
    for section in ("kube", "prometheus", "runtime"):
        fields = set(type(getattr(Settings(), section)).model_fields)
        assert fields == {s.field for s in SETTINGS if s.section == section}


def test_process_environment_is_read_by_the_model_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WVA_SHARDS", "7")
    monkeypatch.setenv("PROMETHEUS_BASE_URL", "http://p:9090")
    assert Settings() == load_settings()
    assert (Settings().runtime.shards, Settings().prometheus.base_url) == (7, "http://p:9090")
