"""gc_paused restores the collector's previous state, also on errors and when nested; CycleCollector freezes after
every cycle and frees frozen cyclic garbage at its periodic full collection."""

from __future__ import annotations

import gc
import weakref

import pytest

from wva_ray.runtime.gc_pause import CycleCollector, gc_paused


def test_gc_paused_restores_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic GC frees it


@pytest.mark.parametrize("full_every", [pytest.param(1, id="every-cycle"), pytest.param(3, id="every-third")])
def test_cycle_collector_frees_frozen_cyclic_garbage_within_full_every_cycles(full_every: int) -> None:
    collector = CycleCollector(full_every)
    try:
        node = _Node()
        ref = weakref.ref(node)
        collector.after_cycle()  # frozen while still in use
        del node
        gc.collect()  # a frozen object is not collected, even by a full collection
        assert ref() is not None
        fulls = [collector.after_cycle()]
        while not fulls[-1]:
            assert ref() is not None
            fulls.append(collector.after_cycle())
        assert ref() is None
        assert len(fulls) <= full_every
        assert gc.get_freeze_count() > 0  # what survived the full collection is frozen again
    finally:
        gc.unfreeze()


def test_cycle_collector_freezes_after_every_cycle() -> None:
    collector = CycleCollector(full_every=5)
    try:
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        assert [collector.after_cycle() for _ in range(10)] == [False] * 4 + [True] + [False] * 4 + [True]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_cycle_collector_needs_a_positive_period() -> None:
    with pytest.raises(ValueError, match="full_every"):
        CycleCollector(0)
