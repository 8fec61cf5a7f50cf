"""Logging inside the coordinator and shard actors. Does I/O (installs a handler on the actor process's root
logger, which writes to the process's stderr).

A Ray worker process starts with Python's logging unconfigured, so an actor's INFO lines (a decision's reason, a
shard that missed its deadline, a cycle that failed) were dropped and its warnings went only to Ray's worker log
files. The controller hands its own effective level to the actors (`CoordinatorOptions.log_level`); each actor
installs one stderr handler at that level, naming the actor in every line. With `log_to_driver` (how
`wva-ray run` starts Ray) those lines reach the controller's stdout, so `kubectl logs` of the controller shows
the coordinator's and the shards' lines too; under KubeRay they are in the actor's log in the Ray dashboard.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s [{actor}] %(message)s"


class _ActorHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so that configuring twice replaces rather than duplicates it."""


def configure_actor_logging(level: str | int | None, actor: str) -> None:
    """Log at ``level`` to stderr, each line naming ``actor``. ``None`` leaves the process's logging as it is.
    An unknown level name raises ValueError naming it."""
    if level is None:
        return
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"log_level: unknown level {level!r} (DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ActorHandler)]:
        root.removeHandler(old)
    handler = _ActorHandler()
    handler.setFormatter(logging.Formatter(FORMAT.format(actor=actor)))
    root.addHandler(handler)
    root.setLevel(numeric)
