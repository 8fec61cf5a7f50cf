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
