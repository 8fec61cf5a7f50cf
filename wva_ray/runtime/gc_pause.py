"""Pausing Python's cyclic garbage collector around one decision pass (process-level effect; no I/O).

A cycle over 10,000 VAs allocates a few hundred thousand short-lived, acyclic objects; each generation-2
collection then rescans the whole snapshot. Reference counting frees those objects anyway, so the runtime turns
the cyclic collector off for the length of `propose`/`finalize` and back on afterwards
(`benchmarks/decide_scale.py --gc paused` measures the effect). The core itself stays free of such effects.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic GC inside the block; restore the previous state (nested use is safe)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class CycleCollector:
    """The cyclic GC of a long-lived process that runs decision cycles (the coordinator).

    Each cycle leaves a new snapshot, plan and state alive (a quarter of a million objects at 10,000 VAs), so
    CPython's full collection, which rescans every live object, ran about once per cycle and cost about 1 s of
    CPU wherever it happened to trigger (benchmarks/profile_coordinator.py, `gc2_*` columns): the largest
    source of spread in the cycle time. `after_cycle`, called once a cycle is published, freezes every object
    alive at that point (`gc.freeze`: automatic collections no longer scan them; reference counting still frees
    them), and every `full_every` cycles first unfreezes and runs one full collection, so cyclic garbage that was
    frozen while still in use is freed within `full_every` cycles.
    """

    def __init__(self, full_every: int = 10) -> None:
        if full_every < 1:
            raise ValueError(f"full_every must be >= 1, got {full_every}")
        self.full_every = full_every
        self.cycles = 0

    def after_cycle(self) -> bool:
        """Freeze what is alive; True when this call ran the periodic full collection first."""
        self.cycles += 1
        full = self.cycles % self.full_every == 0
        if full:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        return full
