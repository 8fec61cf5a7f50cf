"""core.reminder: a standing condition is said when it starts, changes, every `every_s` and when it ends; never
once per cycle (150 cycles of a 5-minute outage: 2 or 3 lines, not 150)."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wva_ray.core.reminder import Reminder, Say


@pytest.mark.parametrize(
    ("states", "want"),
    [
        pytest.param([None, None], [None, None], id="never"),
        pytest.param(["x", "x", "x"], [Say.STARTED, None, None], id="once"),
        pytest.param(["x", "x", None, None], [Say.STARTED, None, Say.ENDED, None], id="ends-once"),
        pytest.param(["x", "y", "y"], [Say.STARTED, Say.STARTED, None], id="changed"),
        pytest.param(["x", None, "x"], [Say.STARTED, Say.ENDED, Say.STARTED], id="again-after-ending"),
    ],
)
def test_said_on_transitions(states: list[Hashable | None], want: list[Say | None]) -> None:
    r = Reminder(every_s=100.0)
    assert [r.observe(s, float(i)) for i, s in enumerate(states)] == want


def test_a_five_minute_state_at_two_second_cycles_is_said_three_times() -> None:
    r = Reminder(every_s=120.0)
    said = [r.observe("down", 2.0 * i) for i in range(150)] + [r.observe(None, 300.0)]
    assert [s for s in said if s is not None] == [Say.STARTED, Say.STILL, Say.STILL, Say.ENDED]


@given(st.lists(st.sampled_from(["a", "b", None]), max_size=200), st.floats(1.0, 50.0))
def test_at_most_one_line_per_change_plus_reminders(states: list[str | None], every_s: float) -> None:
    r = Reminder(every_s=every_s)
    said = [r.observe(s, float(i)) for i, s in enumerate(states)]
    changes = sum(1 for i, s in enumerate(states) if s != (states[i - 1] if i else None))
    reminders = sum(1 for s in said if s is Say.STILL)
    assert sum(1 for s in said if s is not None) == changes + reminders
    assert reminders <= len(states) / every_s + 1
