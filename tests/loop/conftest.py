"""One closed loop (tests/loop/rig.py) per test session for the closed-loop and fault tests, brought up on
first use; each test gets it with a fresh timeline sampler. Controller logs are printed when a test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loop.rig import LoopRig
from tests.loop.timeline import Sampler

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.fixture(scope="package")
def loop_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopRig]:
    rig = LoopRig(tmp_path_factory.mktemp("loop"))
    try:
        rig.start()
    except BaseException:
        print(rig.logs())
        rig.stop()
        raise
    try:
        yield rig
    finally:
        rig.stop()
    assert rig.kubelet is not None
    assert not rig.kubelet.errors, f"fake kubelet errors: {rig.kubelet.errors[:5]}"


@pytest.fixture
def loop(loop_rig: LoopRig, request: pytest.FixtureRequest) -> Iterator[tuple[LoopRig, Sampler]]:
    sampler = Sampler(loop_rig).start()
    yield loop_rig, sampler
    sampler.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(loop_rig.logs())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    rep = yield
    if call.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep
