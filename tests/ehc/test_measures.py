"""The 20-week measure's two predicates (``ehc.measures``), shared by the managers' gauge
and DfE's reports."""

from __future__ import annotations

from datetime import date, timedelta

from ehc.measures import (
    RecordedException,
    exception_case_as_at,
    issued_within_20_weeks,
    twelve_months_ending,
    week20_counts,
    year_before,
)

DAY0 = date(2024, 1, 8)


def _exception(dated_on: date, *, excuses: bool = True) -> RecordedException:
    return RecordedException("E1", "personal_circumstances", dated_on, excuses)


def test_a_plan_on_day_140_is_within_20_weeks_and_day_141_is_not() -> None:
    assert issued_within_20_weeks(DAY0, DAY0 + timedelta(days=140))
    assert not issued_within_20_weeks(DAY0, DAY0 + timedelta(days=141))


def test_an_exception_makes_an_exception_case_only_from_its_date() -> None:
    on = date(2024, 3, 1)
    assert not exception_case_as_at([_exception(on)], on - timedelta(days=1))
    assert exception_case_as_at([_exception(on)], on)
    assert not exception_case_as_at([], on)


def test_an_exception_the_law_does_not_accept_for_the_period_is_no_exception_case() -> None:
    on = date(2024, 3, 1)
    assert not exception_case_as_at([_exception(on, excuses=False)], on)
    assert exception_case_as_at([_exception(on, excuses=False), _exception(on)], on)


def test_twelve_months_ending_a_day_start_the_day_after_a_year_before() -> None:
    assert twelve_months_ending(date(2024, 12, 31)) == (date(2024, 1, 1), date(2024, 12, 31))
    assert twelve_months_ending(date(2024, 2, 29)) == (date(2023, 3, 1), date(2024, 2, 29))
    assert year_before(date(2024, 2, 29)) == date(2023, 2, 28)


def test_week20_counts_leave_exception_cases_out_of_both_sides_and_the_window_edges() -> None:
    late = DAY0 + timedelta(days=200)
    on_time = DAY0 + timedelta(days=100)
    plans = [
        (DAY0, on_time, False),
        (DAY0, late, False),
        (DAY0, on_time, True),
        (DAY0, date(2025, 1, 1), False),  # after the window
    ]
    counts = week20_counts(plans, start=date(2024, 1, 1), end=date(2024, 12, 31))
    assert (counts.issued, counts.within, counts.issued_ex, counts.within_ex) == (3, 2, 2, 1)
