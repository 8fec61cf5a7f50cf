"""The one settings tree of wva-ray: `wva-ray run`, `wva-ray plan --from-cluster` and the RayService app
(`runtime/ray_app.py`) all build a `Settings` with `load_settings`. Reads the environment and a YAML file (I/O).

Sections: `kube` (`adapters.kube.settings.KubeSettings`: credentials, scope, ConfigMaps), `prometheus`
(`adapters.prometheus.client.PrometheusSettings`: connection, retries) and `runtime` (`RuntimeSettings`: cycle,
shards, actuation, ports, leader election). The adapters take their section as a typed argument and never read
the environment; every environment name is in `SETTINGS` below, the only place that knows them.

Precedence: command-line flags > environment > settings file > defaults. Upstream WVA's environment names are
kept (`PROMETHEUS_BASE_URL`, `GLOBAL_OPT_INTERVAL`, `WVA_SCALE_TO_ZERO`, `CONTROLLER_INSTANCE`,
`WATCH_NAMESPACE`, `POD_NAMESPACE`, `SATURATION_CONFIG_MAP_NAME`, the `PROMETHEUS_*` TLS and token names); ours
are `WVA_<FIELD>` for the kube and runtime sections and `PROMETHEUS_<FIELD>` for the prometheus one. Names are
matched case-insensitively; an empty value counts as unset. Flags and the settings file use flat keys (the `key`
of each `SettingName`, e.g. `shards`, `prometheus_base_url`); the file may also nest them by section
(`runtime: {shards: 3}`), or use the environment names, as WVA v0.9's `wva-manager-config` `config.yaml` does
(`PROMETHEUS_BASE_URL: https://...`; pass that file with `--config /etc/wva/config.yaml`); its keys wva-ray does not
use (`UPSTREAM_IGNORED`) are accepted and ignored. A bad value raises `SettingsError` naming where it came from
(the environment variable, the flag or the file key) and the value.
The object is frozen: a cycle sees one consistent set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from wva_ray.adapters.kube.settings import KubeSettings
from wva_ray.adapters.prometheus.client import PrometheusSettings
from wva_ray.api.config import parse_duration_s
from wva_ray.core.ports import ConfigError

ActuationMode = Literal["hpa", "direct", "serve"]
Section = Literal["kube", "prometheus", "runtime"]


class SettingsError(ConfigError, ValueError):
    """A setting has a bad value or an unknown name; the message names its source and the value."""


def _duration_s(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            return parse_duration_s(text)
    return value


class RuntimeSettings(BaseModel):
    """How the controller process runs: cycle, shards, actuation, metrics source, ports, leader election."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_s: float = Field(30.0, gt=0)
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
    # /healthz: a leader is alive while a cycle finished within this many intervals (+ the grace for its first
    # cycle, counted once ray.init and the actors' start are done; that start is bounded by
    # liveness_runtime_start_s); see wva_ray.runtime.health
    liveness_intervals: float = Field(3.0, ge=1)
    liveness_startup_grace_s: float = Field(60.0, ge=0)
    liveness_runtime_start_s: float = Field(300.0, gt=0)
    # custom Ray resource only the head advertises (KubeRay RayService mode): the coordinator requests a
    # fraction of it, which pins it to the head pod (its ServiceAccount writes to the Kubernetes API)
    head_resource: str | None = Field(None, min_length=1)

    @field_validator(
        "interval_s",
        "lease_duration_s",
        "status_heartbeat_s",
        "liveness_startup_grace_s",
        "liveness_runtime_start_s",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _duration_s(value)

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


@dataclass(frozen=True)
class SettingName:
    """Where one setting lives in the tree and the names it is read by."""

    section: Section
    field: str
    env: tuple[str, ...]  # environment variables, the first one set wins
    key: str  # flat key of flags and the settings file


# Upstream names (and our older aliases) where they differ from WVA_<FIELD> / PROMETHEUS_<FIELD>.
_ENV_OVERRIDES: dict[tuple[Section, str], tuple[str, ...]] = {
    ("kube", "kubeconfig"): ("KUBECONFIG",),
    ("kube", "watch_namespace"): ("WATCH_NAMESPACE",),
    ("kube", "pod_namespace"): ("POD_NAMESPACE",),
    ("kube", "controller_instance"): ("CONTROLLER_INSTANCE",),
    ("kube", "saturation_config_map"): ("SATURATION_CONFIG_MAP_NAME",),
    ("kube", "queueing_model_config_map"): ("QUEUEING_MODEL_CONFIG_MAP_NAME",),
    ("kube", "scale_to_zero_fallback"): ("WVA_SCALE_TO_ZERO",),
    ("runtime", "interval_s"): ("GLOBAL_OPT_INTERVAL",),
    ("runtime", "status_heartbeat_s"): ("WVA_STATUS_HEARTBEAT_S", "WVA_STATUS_HEARTBEAT_SECONDS"),
    ("runtime", "lease_name"): ("WVA_LEASE_NAME", "LEADER_ELECTION_ID"),
}
# Flat keys that differ from the field name (prometheus fields are `prometheus_<field>`).
_KEY_OVERRIDES: dict[tuple[Section, str], str] = {
    ("kube", "saturation_config_map"): "saturation_config_map_name",
    ("kube", "queueing_model_config_map"): "queueing_model_config_map_name",
    ("kube", "scale_to_zero_fallback"): "scale_to_zero",
}
UPSTREAM_ENV = frozenset(
    {
        "PROMETHEUS_BASE_URL",
        "PROMETHEUS_BEARER_TOKEN",
        "PROMETHEUS_TOKEN_PATH",
        "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY",
        "PROMETHEUS_CA_CERT_PATH",
        "PROMETHEUS_CLIENT_CERT_PATH",
        "PROMETHEUS_CLIENT_KEY_PATH",
        "PROMETHEUS_SERVER_NAME",
        "GLOBAL_OPT_INTERVAL",
        "WVA_SCALE_TO_ZERO",
        "CONTROLLER_INSTANCE",
        "WATCH_NAMESPACE",
        "POD_NAMESPACE",
        "SATURATION_CONFIG_MAP_NAME",
        "QUEUEING_MODEL_CONFIG_MAP_NAME",
    }
)
# Upstream keys of `wva-manager-config`'s config.yaml (and env) that wva-ray has no use for: accepted in a settings
# file and ignored (docs/compatibility.md says why for each); any other unknown key is an error.
UPSTREAM_IGNORED = frozenset(
    {
        "CONFIG_MAP_NAME",
        "WVA_LIMITED_MODE",
        "SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY",
        "EPP_METRIC_READER_BEARER_TOKEN",
        "PROMETHEUS_METRICS_CACHE_TTL",
        "PROMETHEUS_METRICS_CACHE_CLEANUP_INTERVAL",
        "PROMETHEUS_METRICS_CACHE_FETCH_INTERVAL",
        "PROMETHEUS_METRICS_CACHE_FRESH_THRESHOLD",
        "PROMETHEUS_METRICS_CACHE_STALE_THRESHOLD",
        "PROMETHEUS_METRICS_CACHE_UNAVAILABLE_THRESHOLD",
        "METRICS_BIND_ADDRESS",
        "HEALTH_PROBE_BIND_ADDRESS",
        "LEADER_ELECT",
        "LEADER_ELECTION_LEASE_DURATION",
        "LEADER_ELECTION_RENEW_DEADLINE",
        "LEADER_ELECTION_RETRY_PERIOD",
        "REST_CLIENT_TIMEOUT",
        "METRICS_SECURE",
        "ENABLE_HTTP2",
        "V",
        "EXPERIMENTAL_COORDINATOR_ENABLED",
        "COORDINATOR_INTERVAL",
    }
)
_SECTIONS: dict[Section, type[BaseModel]] = {
    "kube": KubeSettings,
    "prometheus": PrometheusSettings,
    "runtime": RuntimeSettings,
}


def _setting_names() -> tuple[SettingName, ...]:
    names = []
    for section, model in _SECTIONS.items():
        for field in model.model_fields:
            prefix = "PROMETHEUS_" if section == "prometheus" else "WVA_"
            env = _ENV_OVERRIDES.get((section, field), (f"{prefix}{field.upper()}",))
            default_key = f"prometheus_{field}" if section == "prometheus" else field
            names.append(SettingName(section, field, env, _KEY_OVERRIDES.get((section, field), default_key)))
    return tuple(names)


SETTINGS = _setting_names()
_BY_KEY = {s.key: s for s in SETTINGS}
_BY_FIELD = {(s.section, s.field): s for s in SETTINGS}
_BY_ENV = {name: s for s in SETTINGS for name in s.env}  # wva-manager-config's config.yaml uses the env names


def env_names() -> frozenset[str]:
    """Every environment variable the settings tree reads."""
    return frozenset(name for s in SETTINGS for name in s.env)


def parse_node_selector(text: str) -> dict[str, str]:
    """`key=value,key2=value2` (WVA_NODE_SELECTOR) as a mapping; raises ValueError naming the bad part."""
    selector: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs, got {part!r}")
        selector[key.strip()] = value.strip()
    return selector


_ENV_PARSERS = {("kube", "node_selector"): parse_node_selector}

Origins = dict[tuple[str, str], str]  # (section, field) -> "GLOBAL_OPT_INTERVAL" / "flag shards" / "file x: shards"


def _from_environ(environ: Mapping[str, str], origins: Origins) -> dict[str, dict[str, Any]]:
    upper = {k.upper(): v for k, v in environ.items()}
    tree: dict[str, dict[str, Any]] = {}
    for s in SETTINGS:
        name = next((n for n in s.env if upper.get(n, "").strip()), None)
        if name is None:
            continue
        value: Any = upper[name]
        parser = _ENV_PARSERS.get((s.section, s.field))
        if parser is not None:
            try:
                value = parser(value)
            except ValueError as exc:
                raise SettingsError(f"{name}={upper[name]!r}: {exc}") from exc
        tree.setdefault(s.section, {})[s.field] = value
        origins[(s.section, s.field)] = name
    return tree


def _from_flat(values: Mapping[str, Any], source: str, origins: Origins) -> dict[str, dict[str, Any]]:
    """Flat keys (and, in a file, section mappings) into the tree; None values are skipped."""
    tree: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            for field, inner in value.items():
                if (key, field) not in _BY_FIELD:
                    raise SettingsError(f"{source}: unknown setting {key}.{field}")
                if inner is not None:
                    tree.setdefault(key, {})[field] = inner
                    origins[(key, field)] = f"{source} {key}.{field}"
            continue
        s = _BY_KEY.get(key) or _BY_ENV.get(str(key).upper())
        if s is None and str(key).upper() in UPSTREAM_IGNORED:
            continue
        if s is None:
            raise SettingsError(f"{source}: unknown setting {key!r} (known: {', '.join(sorted(_BY_KEY))})")
        parser = _ENV_PARSERS.get((s.section, s.field))
        if parser is not None and isinstance(value, str):
            try:
                value = parser(value)
            except ValueError as exc:
                raise SettingsError(f"{source} {key}={value!r}: {exc}") from exc
        if value is not None:
            tree.setdefault(s.section, {})[s.field] = value
            origins[(s.section, s.field)] = f"{source} {key}"
    return tree


def read_settings_file(path: Path) -> dict[str, Any]:
    """A YAML mapping of settings (flat keys, or section mappings); errors name the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"settings file {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path}: expected a mapping, got {type(data).__name__}")
    return data


class Settings(BaseSettings):
    """The whole configuration of one wva-ray process (see the module docstring for the sources)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    kube: KubeSettings = KubeSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    runtime: RuntimeSettings = RuntimeSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _TreeEnvSource(settings_cls))


class _TreeEnvSource(PydanticBaseSettingsSource):
    """`Settings()` reads the process environment through the same name table as `load_settings`."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _from_environ(os.environ, {})


def _merge(*trees: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for tree in trees:
        for section, values in tree.items():
            merged.setdefault(section, {}).update(values)
    return merged


def _explain(err: ValidationError, origins: Origins, values: Mapping[str, Mapping[str, Any]]) -> SettingsError:
    first = err.errors()[0]
    loc = tuple(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if len(loc) < 2:  # a cross-field rule: its message names the fields and values
        return SettingsError(f"invalid settings: {message}")
    section, field = loc[0], loc[1]
    where = origins.get((section, field), f"{section}.{field}")
    value = values.get(section, {}).get(field, first.get("input"))
    return SettingsError(f"{where}={value!r}: {message}")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings: `flags` (flat keys; None values ignored) > environment > `file` > defaults.

    `environ` replaces the process environment (tests); None reads `os.environ`.
    """
    origins: Origins = {}
    from_file = _from_flat(read_settings_file(file), f"settings file {file}:", origins) if file is not None else {}
    from_env = _from_environ(os.environ if environ is None else environ, origins)
    from_flags = _from_flat(flags or {}, "flag", origins)
    merged = _merge(from_file, from_env, from_flags)
    try:
        return Settings.model_validate(merged)
    except ValidationError as err:
        raise _explain(err, origins, merged) from err


__all__ = [
    "SETTINGS",
    "UPSTREAM_ENV",
    "UPSTREAM_IGNORED",
    "ActuationMode",
    "RuntimeSettings",
    "SettingName",
    "Settings",
    "SettingsError",
    "env_names",
    "load_settings",
    "parse_node_selector",
    "read_settings_file",
]
