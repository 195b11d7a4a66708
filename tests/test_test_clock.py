"""The suite's own clock tools: where ``start_moment`` moves a test's clock to, and how
``eventually`` fails. A test that moved the clock to the wrong hour would prove nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import START_MOMENTS, next_start
from tests.waiting import NeverHappened, eventually, eventually_sync


@pytest.mark.parametrize(
    ("now", "moment", "expected"),
    [
        # 14:50 London in winter (GMT): 09:55 is tomorrow's, 15:00 is today's.
        ("2026-11-30T14:50:00+00:00", "09:55", "2026-12-01T09:55:00+00:00"),
        ("2026-11-30T14:50:00+00:00", "15:00", "2026-11-30T15:00:00+00:00"),
        ("2026-11-30T14:50:00+00:00", "00:30", "2026-12-01T00:30:00+00:00"),
        # 23:30 UTC on 30 June is 00:30 London on 1 July (BST): that moment has just passed.
        ("2026-06-30T23:30:00+00:00", "00:30", "2026-07-01T23:30:00+00:00"),
        ("2026-06-30T08:00:00+00:00", "09:55", "2026-06-30T08:55:00+00:00"),
        # The next clock change after late November is the last Sunday of March.
        ("2026-11-30T14:50:00+00:00", "clock_change", "2027-03-28T00:30:00+00:00"),
        ("2027-04-01T12:00:00+00:00", "clock_change", "2027-10-30T23:30:00+00:00"),
    ],
)
def test_a_test_clock_moves_to_the_next_such_moment_in_london(
    now: str, moment: str, expected: str
) -> None:
    assert next_start(datetime.fromisoformat(now), moment) == datetime.fromisoformat(expected)


def test_every_start_moment_is_understood() -> None:
    now = datetime(2026, 11, 30, 14, 50, tzinfo=UTC)
    assert all(next_start(now, m) > now for m in START_MOMENTS)


async def test_eventually_returns_the_first_value_that_holds() -> None:
    seen = iter(range(10))
    assert await eventually(lambda: next(seen), until=lambda n: n >= 3, interval=0) == 3


async def test_eventually_fails_with_the_last_value_it_saw() -> None:
    with pytest.raises(NeverHappened, match=r"the count not met within 0.2 s; last saw \[1\]"):
        await eventually(lambda: [1], until=lambda v: len(v) > 1, timeout=0.2, what="the count")


def test_eventually_sync_is_bounded_too() -> None:
    with pytest.raises(NeverHappened, match="last saw False"):
        eventually_sync(lambda: False, timeout=0.2, interval=0.05)
