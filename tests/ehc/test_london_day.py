"""UK civil time in ``ehc/statutory.py`` against the tz database's Europe/London.

A deadline passes at the end of its due date, Europe/London local time (rules.md 1).
The module computes UK time itself (workflows may not build ZoneInfo objects), so it is
checked here against ``zoneinfo`` for many instants and every DST change 2015-2035.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehc.statutory import end_of_london_day, london_date, london_offset

LONDON = ZoneInfo("Europe/London")
YEARS = range(2015, 2036)
FAST = settings(max_examples=300, deadline=None, database=None)

# Aware instants 2015-2035, expressed in UTC and in a few other fixed offsets.
ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
        timezone(timedelta(hours=13)),
    ]
)
instants = st.datetimes(
    min_value=datetime(2015, 1, 2),
    max_value=datetime(2035, 12, 30, 23, 59, 59),
    timezones=ZONES,
)
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


def tz_offset(instant: datetime) -> timedelta:
    offset = instant.astimezone(UTC).astimezone(LONDON).utcoffset()
    assert offset is not None
    return offset


def tz_date(instant: datetime) -> date:
    return instant.astimezone(UTC).astimezone(LONDON).date()


def tz_end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), LONDON).astimezone(UTC)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


TRANSITION_DAYS = [last_sunday(y, m) for y in YEARS for m in (3, 10)]


@FAST
@given(instant=instants)
def test_offset_and_date_match_tzdata(instant: datetime) -> None:
    assert london_offset(instant) == tz_offset(instant)
    assert london_date(instant) == tz_date(instant)


@FAST
@given(day=days)
def test_end_of_day_matches_tzdata(day: date) -> None:
    end = end_of_london_day(day)
    assert end == tz_end_of_day(day)
    assert end.utcoffset() == timedelta(0)
    assert london_date(end) == day + timedelta(days=1)
    assert london_date(end - timedelta(microseconds=1)) == day


def test_transition_days_are_the_tzdata_ones() -> None:
    # Each transition day really is a change of offset in tzdata, 01:00 UTC both ways.
    for day in TRANSITION_DAYS:
        before = datetime.combine(day, time(0, 59, 59), UTC)
        after = datetime.combine(day, time(1), UTC)
        assert tz_offset(before) != tz_offset(after), day


@pytest.mark.parametrize("day", TRANSITION_DAYS, ids=str)
def test_dst_transition_day_every_minute_near_the_change(day: date) -> None:
    start = datetime.combine(day, time(0), UTC) - timedelta(hours=2)
    for minute in range(0, 6 * 60):  # 22:00 UTC the day before to 04:00 UTC
        instant = start + timedelta(minutes=minute)
        assert london_offset(instant) == tz_offset(instant), instant
        assert london_date(instant) == tz_date(instant), instant
    for second in (-1, 0, 1):
        instant = datetime.combine(day, time(1), UTC) + timedelta(seconds=second)
        assert london_offset(instant) == tz_offset(instant), instant


@pytest.mark.parametrize("day", TRANSITION_DAYS, ids=str)
def test_dst_transition_day_quarter_hours_and_day_ends(day: date) -> None:
    start = datetime.combine(day - timedelta(days=1), time(0), UTC)
    for quarter in range(3 * 24 * 4):  # the day before, the day, the day after
        instant = start + timedelta(minutes=15 * quarter)
        assert london_offset(instant) == tz_offset(instant), instant
        assert london_date(instant) == tz_date(instant), instant
    for near in (day - timedelta(days=1), day, day + timedelta(days=1)):
        assert end_of_london_day(near) == tz_end_of_day(near), near


def test_known_2025_values() -> None:
    # BST began 01:00 UTC Sun 30 Mar 2025 and ended 01:00 UTC Sun 26 Oct 2025.
    assert london_offset(datetime(2025, 3, 30, 0, 59, 59, tzinfo=UTC)) == timedelta(0)
    assert london_offset(datetime(2025, 3, 30, 1, 0, tzinfo=UTC)) == timedelta(hours=1)
    assert london_offset(datetime(2025, 10, 26, 0, 59, 59, tzinfo=UTC)) == timedelta(hours=1)
    assert london_offset(datetime(2025, 10, 26, 1, 0, tzinfo=UTC)) == timedelta(0)
    # The spring-forward Sunday is 23 hours long, the fall-back Sunday 25.
    assert end_of_london_day(date(2025, 3, 29)) == datetime(2025, 3, 30, 0, 0, tzinfo=UTC)
    assert end_of_london_day(date(2025, 3, 30)) == datetime(2025, 3, 30, 23, 0, tzinfo=UTC)
    assert end_of_london_day(date(2025, 10, 25)) == datetime(2025, 10, 25, 23, 0, tzinfo=UTC)
    assert end_of_london_day(date(2025, 10, 26)) == datetime(2025, 10, 27, 0, 0, tzinfo=UTC)
    # 23:30 UTC on a summer day is already tomorrow in England.
    assert london_date(datetime(2025, 7, 1, 23, 30, tzinfo=UTC)) == date(2025, 7, 2)
    assert london_date(datetime(2025, 1, 1, 23, 30, tzinfo=UTC)) == date(2025, 1, 1)


def test_year_ends_are_gmt() -> None:
    for year in YEARS:
        for instant in (
            datetime(year, 1, 1, 0, 0, tzinfo=UTC),
            datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC),
        ):
            assert london_offset(instant) == timedelta(0) == tz_offset(instant)
        assert end_of_london_day(date(year, 12, 31)) == datetime(year + 1, 1, 1, tzinfo=UTC)
