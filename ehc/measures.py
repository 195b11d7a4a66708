"""DfE's 20-week measure, defined once: the managers' gauge and DfE's reports both use it.

Pure (no I/O, no clock): the store selects the candidate rows
(``ehc.store.report_queries.final_plans_issued``), the gauge
(``ehc.store.metrics_queries.plans_within_20_weeks``) and the timeliness report and SEN2
return (``ehc.reports``) apply these predicates to them. ``docs/reports.md`` explains the
readings to managers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from ehc import statutory


def year_before(day: date) -> date:
    """The same day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def twelve_months_ending(as_at: date) -> tuple[date, date]:
    """The first and last day (inclusive) of the 12 months ending ``as_at``: the gauge's
    trailing year, and the period of a report run for the year to ``as_at``."""
    return year_before(as_at) + timedelta(days=1), as_at


def issued_within_20_weeks(received_on: date, issued_on: date) -> bool:
    """Reg 13(2): the final EHC plan was issued within 20 weeks of the request (Day 0),
    that is on or before Day 0 + 140 days (``statutory.final_plan_due``). DfE's "new EHC
    plans issued within 20 weeks" and SEN2's 20-week timeliness count these."""
    return issued_on <= statutory.final_plan_due(received_on)


@dataclass(frozen=True)
class RecordedException:
    """An exception recorded on a case's 20-week (``final_plan``) limit, as the store has it.

    ``dated_on`` is the date the audit trail gives it (the ``exception_recorded`` event's
    date): the start of the circumstance, or the day in England it was entered when the
    circumstance has no start date. ``excuses`` says whether the law accepts it for the
    limit's period (it is in the limit's ``exception_ids``; rules.md 8.1).
    """

    id: str
    kind: str
    dated_on: date
    excuses: bool


def exception_case_as_at(exceptions: Iterable[RecordedException], as_at: date) -> bool:
    """Reg 13(3) (the exceptions to the 20-week limit of reg 13(2)), as DfE counts them:
    a case is an exception case as at ``as_at`` (SEN2 ``Week20`` = 1, left out of DfE's
    "within 20 weeks, excluding exceptions") when an exception on its ``final_plan`` limit
    that the law accepts for that limit's period (rules.md 8.1) is dated on or before
    ``as_at``. Like every event the reports read, an exception counts by its date, whenever
    it was entered: a reason recorded afterwards for an earlier circumstance counts."""
    return any(e.excuses and e.dated_on <= as_at for e in exceptions)


@dataclass(frozen=True)
class IssuedPlan:
    """A final plan: the request's Day 0, the day the plan was issued, and the exceptions
    recorded on the case's 20-week limit."""

    case_ref: str
    received_on: date
    issued_on: date
    exceptions: tuple[RecordedException, ...] = ()


@dataclass(frozen=True)
class Week20Counts:
    """New plans issued in a period and, of those, issued within 20 weeks; each also
    excluding exception cases (left out of both numerator and denominator)."""

    issued: int
    within: int
    issued_ex: int
    within_ex: int


def week20_counts(
    plans: Iterable[tuple[date, date, bool]], *, start: date, end: date
) -> Week20Counts:
    """Count ``(received_on, issued_on, exception_case)`` triples whose plan was issued
    from ``start`` to ``end`` inclusive (reg 13(2); DfE's timeliness_20_week)."""
    issued = within = issued_ex = within_ex = 0
    for received_on, issued_on, exception_case in plans:
        if not start <= issued_on <= end:
            continue
        on_time = issued_within_20_weeks(received_on, issued_on)
        issued += 1
        within += on_time
        if not exception_case:
            issued_ex += 1
            within_ex += on_time
    return Week20Counts(issued, within, issued_ex, within_ex)
