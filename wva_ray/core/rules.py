"""Rules the controller's analyzers and the Ray Serve policies share, written once. Pure: no I/O, no clock.

- Variant selection (wva-behaviour 3.2/3.4): a scale-up adds one replica to the cheapest eligible variant (ties:
  name ascending); a scale-down removes one from the most expensive (ties: name descending); a variant may grow
  while below its maxReplicas and shrink while above both 1 and its minReplicas.
- The transition gate (3.2): while a previous decision is not realised, the model holds; the hold expires
  `timeout_s` after the transition began, and the caller then re-baselines at the current count. A transition
  whose start is unknown never expires.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol, TypeVar


class Priced(Protocol):
    """Anything a selection rule can rank: a cost per replica and a unique name."""

    @property
    def cost(self) -> float: ...

    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=Priced)


def _price(item: Priced) -> tuple[float, str]:
    return item.cost, item.name


def cheapest(items: Iterable[P]) -> P | None:
    """The cheapest item (ties: name ascending); None when there is none."""
    return min(items, key=_price, default=None)


def most_expensive(items: Iterable[P]) -> P | None:
    """The most expensive item (ties: name descending); None when there is none."""
    return max(items, key=_price, default=None)


def most_expensive_first(items: Iterable[P]) -> list[P]:
    """Items by cost descending (ties: name descending): the order replicas are removed in."""
    return sorted(items, key=_price, reverse=True)


def may_grow(replicas: int, max_replicas: int | None) -> bool:
    """A variant may take one more replica while below its maxReplicas (None: unbounded)."""
    return max_replicas is None or replicas < max_replicas


def may_shrink(replicas: int, min_replicas: int | None) -> bool:
    """A variant may give up one replica while above both 1 and its minReplicas (None: 0)."""
    return replicas > max(1, min_replicas or 0)


class Gate(StrEnum):
    """The transition gate's answer."""

    OPEN = "open"  # no transition in progress: decide
    HOLD = "hold"  # a transition is in progress and within its timeout: hold
    EXPIRED = "expired"  # the transition outlived its timeout: re-baseline at the current count


def transition_gate(in_transition: bool, elapsed_s: float | None, timeout_s: float) -> Gate:
    """`elapsed_s`: time since the transition began (None: unknown, never expires)."""
    if not in_transition:
        return Gate.OPEN
    if elapsed_s is not None and elapsed_s >= timeout_s:
        return Gate.EXPIRED
    return Gate.HOLD
