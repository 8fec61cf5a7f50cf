"""One exception tree: every error wva-ray raises on purpose is a WvaError; the five kinds are distinct."""

from __future__ import annotations

import itertools

import pytest

from wva_ray.core import errors, ports
from wva_ray.settings import SettingsError

KINDS = [
    errors.ConfigError,
    errors.MetricsUnavailableError,
    errors.TransientApiError,
    errors.ConflictError,
    errors.NotLeaderError,
]


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.__name__) for k in KINDS])
def test_every_kind_is_a_wva_error(kind: type[Exception]) -> None:
    assert issubclass(kind, errors.WvaError)


def test_kinds_are_distinct() -> None:
    for a, b in itertools.permutations(KINDS, 2):
        assert not issubclass(a, b), (a, b)


def test_not_leader_is_not_transient() -> None:
    assert not issubclass(errors.NotLeaderError, errors.TransientApiError)


def test_ports_reexport_the_same_classes() -> None:
    assert ports.ConfigError is errors.ConfigError
    assert ports.MetricsUnavailableError is errors.MetricsUnavailableError
    assert ports.TransientApiError is errors.TransientApiError
    assert ports.ConflictError is errors.ConflictError


def test_settings_errors_are_config_errors() -> None:
    assert issubclass(SettingsError, errors.ConfigError)
