"""gc_paused restores the collector's previous state, also on errors and when nested."""

from __future__ import annotations

import gc

import pytest

from wva_ray.runtime.gc_pause import gc_paused


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
