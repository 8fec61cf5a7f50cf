"""Settings precedence (flags > env > file > defaults) and upstream environment names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wva_ray.runtime.settings import load_settings


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
    assert load_settings(environ=env).interval_s == expected_s


def test_upstream_env_names_are_read() -> None:
    s = load_settings(
        environ={
            "PROMETHEUS_BASE_URL": "http://prom:9090",
            "WVA_SCALE_TO_ZERO": "true",
            "CONTROLLER_INSTANCE": "a",
            "WATCH_NAMESPACE": "llm",
            "POD_NAMESPACE": "wva",
            "WVA_SHARDS": "4",
            "WVA_ACTUATION": "direct",
        }
    )
    assert (s.prometheus_base_url, s.scale_to_zero, s.controller_instance) == ("http://prom:9090", True, "a")
    assert (s.watch_namespace, s.pod_namespace, s.shards, s.actuation) == ("llm", "wva", 4, "direct")


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("shards: 3\ninterval_s: 10s\nactuation: serve\n")
    env = {"WVA_SHARDS": "5"}
    s = load_settings(flags={"interval_s": 7, "actuation": None}, file=f, environ=env)
    assert s.interval_s == 7.0  # flag
    assert s.shards == 5  # env over file
    assert s.actuation == "serve"  # file (the None flag is ignored)


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="actuation"):
        load_settings(environ={"WVA_ACTUATION": "magic"})
    with pytest.raises(ValueError, match="invalid duration 'soon'"):
        load_settings(environ={"GLOBAL_OPT_INTERVAL": "soon"})
    f = tmp_path / "bad.yaml"
    f.write_text("- a\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_settings(file=f, environ={})


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("shardz: 3\n")
    with pytest.raises(ValidationError, match="shardz"):
        load_settings(file=f, environ={})


def test_serve_actuation_needs_ray() -> None:
    with pytest.raises(ValidationError, match=r"actuation 'serve' needs the Ray runtime.*use_ray is false"):
        load_settings({"actuation": "serve", "use_ray": False}, environ={})
    assert load_settings({"actuation": "serve"}, environ={}).use_ray
