"""The gateway's choice of a ready pod for each request (fidelity switch `routing`). Pure, no I/O.

`least-loaded`: min running + waiting right now (the EPP's ideal); `round-robin`: a plain Service;
`stale-least-loaded`: least loaded on a view refreshed every `refresh_s`, plus what this router sent since.
Pods are the simulator's (anything with `name` and `replica.load`); `sync(pod)` brings a pod's replica model
up to the routing time before its load is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Protocol, TypeVar

from wva_ray.sim.fidelity import Routing
from wva_ray.sim.model.replica import ReplicaModel


class RoutedPod(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def replica(self) -> ReplicaModel: ...


P = TypeVar("P", bound=RoutedPod)


class Router:
    def __init__(self, routing: Routing, refresh_s: float) -> None:
        self.routing = routing
        self.refresh_s = refresh_s
        self._rr: dict[str, int] = {}
        self._stale: dict[str, tuple[float, dict[str, int]]] = {}

    def pick(self, model: str, now_s: float, ready: Sequence[P], sync: Callable[[P], None]) -> P:
        if self.routing == "round-robin":
            k = self._rr.get(model, 0)
            self._rr[model] = k + 1
            best = ready[k % len(ready)]
            sync(best)
            return best
        if self.routing == "stale-least-loaded":
            t0, view = self._stale.get(model, (-math.inf, {}))
            if now_s - t0 >= self.refresh_s or any(p.name not in view for p in ready):
                for pod in ready:
                    sync(pod)
                view = {p.name: p.replica.load for p in ready}
                self._stale[model] = (now_s, view)
            best = min(ready, key=lambda p: (view[p.name], p.name))
            view[best.name] += 1
            sync(best)
            return best
        for pod in ready:
            if pod.replica.next_t <= now_s:  # its load changes only at its own events
                sync(pod)
        return min(ready, key=_LOAD)  # the first of the least loaded (syncing one pod changes no other's load)


_LOAD = attrgetter("replica.load")
