"""The one settings object of `wva-ray run` and the runtime. Reads the environment and a YAML file (I/O).

Precedence: command-line flags > environment > settings file > defaults. Upstream WVA's environment names are
kept (`PROMETHEUS_BASE_URL`, `GLOBAL_OPT_INTERVAL`, `WVA_SCALE_TO_ZERO`, `CONTROLLER_INSTANCE`, `WATCH_NAMESPACE`,
`POD_NAMESPACE`, ...); our own settings use the `WVA_` prefix (`WVA_SHARDS`, `WVA_ACTUATION`, ...). The object is
frozen: a cycle sees one consistent set of values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from wva_ray.api.config import parse_duration_s

ActuationMode = Literal["hpa", "direct", "serve"]


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(field, name)


class RuntimeSettings(BaseSettings):
    """Everything the controller process needs to run (see the module docstring for the sources)."""

    model_config = SettingsConfigDict(
        env_prefix="WVA_", frozen=True, extra="forbid", populate_by_name=True, case_sensitive=False
    )

    # upstream names
    prometheus_base_url: str | None = Field(None, validation_alias=_env("PROMETHEUS_BASE_URL", "prometheus_base_url"))
    prometheus_bearer_token: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_BEARER_TOKEN", "prometheus_bearer_token")
    )
    prometheus_token_path: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_TOKEN_PATH", "prometheus_token_path")
    )
    prometheus_tls_insecure_skip_verify: bool = Field(
        False,
        validation_alias=_env("PROMETHEUS_TLS_INSECURE_SKIP_VERIFY", "prometheus_tls_insecure_skip_verify"),
    )
    prometheus_ca_cert_path: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_CA_CERT_PATH", "prometheus_ca_cert_path")
    )
    prometheus_client_cert_path: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_CLIENT_CERT_PATH", "prometheus_client_cert_path")
    )
    prometheus_client_key_path: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_CLIENT_KEY_PATH", "prometheus_client_key_path")
    )
    prometheus_server_name: str | None = Field(
        None, validation_alias=_env("PROMETHEUS_SERVER_NAME", "prometheus_server_name")
    )
    interval_s: float = Field(30.0, gt=0, validation_alias=_env("GLOBAL_OPT_INTERVAL", "interval_s"))
    scale_to_zero: bool = Field(False, validation_alias=_env("WVA_SCALE_TO_ZERO", "scale_to_zero"))
    controller_instance: str | None = Field(None, validation_alias=_env("CONTROLLER_INSTANCE", "controller_instance"))
    watch_namespace: str | None = Field(None, validation_alias=_env("WATCH_NAMESPACE", "watch_namespace"))
    pod_namespace: str = Field(
        "workload-variant-autoscaler-system", validation_alias=_env("POD_NAMESPACE", "pod_namespace")
    )
    saturation_config_map_name: str = Field(
        "wva-saturation-scaling-config",
        validation_alias=_env("SATURATION_CONFIG_MAP_NAME", "saturation_config_map_name"),
    )
    # ours (env WVA_<NAME>)
    kubeconfig: str | None = Field(None, validation_alias=_env("KUBECONFIG", "kubeconfig"))
    actuation: ActuationMode = "hpa"
    shards: int = Field(2, ge=1, le=64)
    use_ray: bool = True
    direct_scrape: bool = False
    scrape_port: int = Field(8000, ge=1, le=65535)  # vLLM's default port (direct scrape)
    scrape_scheme: Literal["http", "https"] = "http"
    metrics_port: int = Field(8080, ge=0, le=65535)
    health_port: int = Field(8081, ge=0, le=65535)
    bind_address: str = "0.0.0.0"
    proposal_deadline_ratio: float = Field(0.5, gt=0, le=1)
    leader_election: bool = True
    lease_name: str = "wva-ray-leader"
    lease_duration_s: float = Field(15.0, gt=0)
    status_heartbeat_s: float = Field(300.0, gt=0)
    # custom Ray resource only the head advertises (KubeRay RayService mode): the coordinator requests a
    # fraction of it, which pins it to the head pod (its ServiceAccount writes to the Kubernetes API)
    head_resource: str | None = Field(None, min_length=1)

    @field_validator("interval_s", "lease_duration_s", "status_heartbeat_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            try:
                return float(text)
            except ValueError:
                return parse_duration_s(text)
        return value

    @model_validator(mode="after")
    def _serve_needs_ray(self) -> RuntimeSettings:
        if self.actuation == "serve" and not self.use_ray:
            raise ValueError(
                "actuation 'serve' needs the Ray runtime (the Serve policy asks the coordinator actor), "
                "but use_ray is false (--no-ray)"
            )
        return self

    @property
    def proposal_deadline_s(self) -> float:
        """How long the coordinator waits for shard proposals in one cycle."""
        return self.interval_s * self.proposal_deadline_ratio

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def read_settings_file(path: Path) -> dict[str, Any]:
    """A YAML mapping of settings (field names as keys); errors name the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"settings file {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"settings file {path}: expected a mapping, got {type(data).__name__}")
    return data


def load_settings(
    flags: Mapping[str, Any] | None = None,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> RuntimeSettings:
    """Build the settings: `flags` (None values ignored) > environment > `file` > defaults.

    `environ` replaces the process environment (tests); None reads `os.environ`.
    """
    from_file = read_settings_file(file) if file is not None else {}
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    env_keys = _env_overrides(environ)
    merged = {k: v for k, v in from_file.items() if k not in env_keys} | given
    if environ is None:
        return RuntimeSettings(**merged)
    return _with_environ(environ, merged)


def _env_names() -> dict[str, str]:
    """Environment variable name (upper case) -> field name."""
    names: dict[str, str] = {}
    for name, info in RuntimeSettings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            for choice in alias.choices:
                if isinstance(choice, str) and choice != name:
                    names[choice.upper()] = name
        else:
            names[f"WVA_{name}".upper()] = name
    return names


def _env_overrides(environ: Mapping[str, str] | None) -> set[str]:
    import os

    env = os.environ if environ is None else environ
    names = _env_names()
    return {names[k.upper()] for k in env if k.upper() in names}


def _with_environ(environ: Mapping[str, str], merged: Mapping[str, Any]) -> RuntimeSettings:
    names = _env_names()
    from_env = {names[k.upper()]: v for k, v in environ.items() if k.upper() in names}
    return RuntimeSettings.model_validate(from_env | dict(merged))


__all__ = ["ActuationMode", "RuntimeSettings", "load_settings", "read_settings_file"]
