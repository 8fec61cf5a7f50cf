"""The one exception tree of wva-ray. Pure data; no I/O.

    WvaError
    ├── ConfigError              a configuration value is invalid (the message names the key and the value)
    ├── MetricsUnavailableError  the metrics source could not answer this cycle: decisions hold, never zeros
    ├── TransientApiError        a Kubernetes or Prometheus call failed in a way worth retrying with backoff
    ├── ConflictError            a write lost a resourceVersion race (HTTP 409): re-read and retry, never drop
    └── NotLeaderError           this instance does not hold the leader Lease: it must not write

Expected degraded states (missing metrics, invalid VAs, conflicts between VAs) are decisions with reasons, not
exceptions; these are for the edges. `except WvaError` catches every error wva-ray raises on purpose.
"""

from __future__ import annotations


class WvaError(Exception):
    """Base of every error wva-ray raises on purpose."""


class ConfigError(WvaError):
    """A configuration value is invalid; the message names the key and the value."""


class MetricsUnavailableError(WvaError):
    """The metrics source could not answer this cycle. Decisions hold; never read as zeros."""


class TransientApiError(WvaError):
    """A Kubernetes or Prometheus call failed in a way worth retrying with backoff."""


class ConflictError(WvaError):
    """A write lost a resourceVersion race (HTTP 409): re-read and retry, never drop."""


class NotLeaderError(WvaError):
    """This instance does not hold the leader Lease: it must not write (not transient: retrying does not help
    until the Lease is won)."""
