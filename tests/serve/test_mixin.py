"""Unit tests of the replica-side stats mixin and the in-flight saturation tracker."""

from __future__ import annotations

import pytest

from wva_ray.serve.mixin import InFlightSaturation, SaturationSample, SaturationStatsMixin
from wva_ray.serve.settings import DEFAULT_KV_STAT, DEFAULT_QUEUE_STAT


class _Replica(SaturationStatsMixin):
    def __init__(self, sample: SaturationSample | None) -> None:
        self.sample = sample

    def saturation_sample(self) -> SaturationSample | None:
        return self.sample


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        pytest.param(SaturationSample(0.4, 2), {DEFAULT_KV_STAT: 0.4, DEFAULT_QUEUE_STAT: 2.0}, id="plain"),
        pytest.param(SaturationSample(1.3, -1), {DEFAULT_KV_STAT: 1.0, DEFAULT_QUEUE_STAT: 0.0}, id="clamped"),
        pytest.param(SaturationSample(float("nan"), 1), {DEFAULT_QUEUE_STAT: 1.0}, id="nan-left-out-not-zero"),
        pytest.param(None, {}, id="unknown-reports-nothing"),
    ],
)
def test_record_autoscaling_stats(sample: SaturationSample | None, expected: dict[str, float]) -> None:
    assert _Replica(sample).record_autoscaling_stats() == expected


def test_mixin_requires_an_implementation() -> None:
    with pytest.raises(NotImplementedError, match="saturation_sample"):
        SaturationStatsMixin().record_autoscaling_stats()


def test_in_flight_saturation() -> None:
    t = InFlightSaturation(kv_slots=4)
    assert t.sample() == SaturationSample(0.0, 0.0)
    for _ in range(6):
        t.started()
    assert t.sample() == SaturationSample(1.0, 2.0)
    for _ in range(3):
        t.finished()
    assert t.sample() == SaturationSample(0.75, 0.0)
    with pytest.raises(ValueError, match="kv_slots"):
        InFlightSaturation(0)
    t2 = InFlightSaturation(1)
    with pytest.raises(RuntimeError, match="no request in flight"):
        t2.finished()
