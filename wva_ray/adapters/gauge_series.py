"""The labelled series of the per-variant gauges, kept between publishes. No I/O.

prometheus_client's `family.labels(...)` validates the label values, builds a key and takes the family's lock
on every call; at 10,000 VAs a publish made about 90,000 of them (three decision gauges and up to six v0.9
gauges per variant) and that was most of the coordinator's publish time (benchmarks/profile_coordinator.py).
`SeriesCache` keeps each series' child and the last value it was given: an unchanged value is not set again
and `labels()` runs once per series, when it is created. Every removal of a cached series must go through
`remove`, so a removed series is never updated through a stale child (it would silently vanish from /metrics).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from prometheus_client import Gauge

SeriesId = tuple[int, tuple[str, ...]]  # (id of the family, its label values)


def _same(a: float, b: float) -> bool:
    """Equal and of the same sign (0.0 and -0.0 render differently); NaN never equals, so it is always set."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


class SeriesCache:
    """Children of labelled gauges by (family, label values), with the value each was last set to."""

    def __init__(self) -> None:
        self._children: dict[SeriesId, tuple[Any, float]] = {}

    def set(self, family: Gauge, labels: tuple[str, ...], value: float) -> None:
        key = (id(family), labels)
        value = float(value)
        hit = self._children.get(key)
        if hit is None:
            child = family.labels(*labels)
        elif _same(hit[1], value):
            return
        else:
            child = hit[0]
        child.set(value)
        self._children[key] = (child, value)

    def remove(self, family: Gauge, labels: tuple[str, ...]) -> None:
        """Drop the series from the family (absent: nothing to do) and from the cache."""
        self._children.pop((id(family), labels), None)
        with contextlib.suppress(KeyError):
            family.remove(*labels)

    def __len__(self) -> int:
        return len(self._children)
