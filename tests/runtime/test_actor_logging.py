"""`runtime.actor_logging`: the handler an actor installs (level, one handler however often, the actor's name in
each line, a clear error for an unknown level). The real path (actors' lines in `wva-ray run`'s output) is
checked by tests/loop/test_closed_loop.py."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from wva_ray.runtime.actor_logging import configure_actor_logging


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def _ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if type(h).__name__ == "_ActorHandler"]


@pytest.mark.parametrize(
    ("level", "emitted", "dropped"),
    [
        pytest.param("INFO", logging.INFO, logging.DEBUG, id="info"),
        pytest.param("warning", logging.WARNING, logging.INFO, id="lower-case-name"),
        pytest.param(logging.DEBUG, logging.DEBUG, None, id="numeric"),
    ],
)
def test_the_actor_logs_at_the_controllers_level_naming_itself(
    root: logging.Logger, level: str | int, emitted: int, dropped: int | None
) -> None:
    configure_actor_logging(level, "wva-shard-3")
    (handler,) = _ours(root)
    out = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    log = logging.getLogger("wva_ray.runtime.test")
    log.log(emitted, "kept %d", 1)
    if dropped is not None:
        log.log(dropped, "dropped")
    text = out.getvalue()
    assert "[wva-shard-3] kept 1" in text and "wva_ray.runtime.test" in text
    assert "dropped" not in text


def test_configuring_twice_keeps_one_handler(root: logging.Logger) -> None:
    configure_actor_logging("INFO", "wva-coordinator")
    configure_actor_logging("DEBUG", "wva-coordinator")
    assert len(_ours(root)) == 1 and root.level == logging.DEBUG


def test_none_leaves_logging_as_it_is(root: logging.Logger) -> None:
    before = list(root.handlers), root.level
    configure_actor_logging(None, "wva-coordinator")
    assert (list(root.handlers), root.level) == before


def test_an_unknown_level_is_named(root: logging.Logger) -> None:
    with pytest.raises(ValueError, match="'LOUD'"):
        configure_actor_logging("LOUD", "wva-coordinator")
    assert not _ours(root)
