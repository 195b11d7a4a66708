"""Rules.md 8.5: notices go out on working days in England; due dates never move.

Reminders (and the due-today notice) move to the previous working day, overdue notices and
escalations to the next; bank holidays come from govuk-bank-holidays' bundled data.
"""

from __future__ import annotations

from datetime import date

from ehc.chasing import ChasingPolicy, NoticeKind, schedule
from ehc.statutory import advice_due
from ehc.workdays import ENGLAND_BANK_HOLIDAYS, last_covered_year
from tests.conftest import Stack

D = date
HEALTH = ChasingPolicy()


def _dates(received: date, rungs: int = 3) -> list[tuple[NoticeKind, date]]:
    plan = schedule(
        requested_on=received,
        due_on=advice_due(received),
        policy=HEALTH,
        ladder_rungs=rungs,
        holidays=ENGLAND_BANK_HOLIDAYS,
    )
    return [(n.kind, n.on) for n in plan]


def test_advice_due_sunday_22_december_2024_is_reminded_on_fridays_not_sundays() -> None:
    received = D(2024, 11, 10)
    assert advice_due(received) == D(2024, 12, 22)  # the due date itself never moves
    plan = _dates(received)
    assert plan[:6] == [
        (NoticeKind.REQUEST, D(2024, 11, 10)),
        (NoticeKind.REMINDER, D(2024, 12, 6)),
        (NoticeKind.REMINDER, D(2024, 12, 13)),
        (NoticeKind.DUE_TODAY, D(2024, 12, 20)),
        (NoticeKind.OVERDUE, D(2024, 12, 23)),
        (NoticeKind.ESCALATION, D(2024, 12, 23)),
    ]
    assert (NoticeKind.ESCALATION, D(2024, 12, 30)) in plan


def test_due_today_on_the_august_bank_holiday_goes_out_the_friday_before() -> None:
    # W2: a health body received its request on Mon 15 Jul 2024; due Mon 26 Aug 2024.
    plan = _dates(D(2024, 7, 15))
    assert (NoticeKind.DUE_TODAY, D(2024, 8, 23)) in plan
    assert (NoticeKind.OVERDUE, D(2024, 8, 27)) in plan


def test_overdue_on_christmas_day_and_escalations_move_to_the_next_working_day() -> None:
    # Due Tue 24 Dec 2024: overdue would be Christmas Day; Boxing Day and the weekend follow.
    plan = _dates(D(2024, 11, 12))
    assert (NoticeKind.OVERDUE, D(2024, 12, 27)) in plan
    escalations = [on for kind, on in plan if kind is NoticeKind.ESCALATION]
    assert escalations[:3] == [D(2024, 12, 27), D(2025, 1, 2), D(2025, 1, 8)]


def test_every_notice_falls_on_a_working_day() -> None:
    for received in (D(2024, 11, 10), D(2025, 3, 1), D(2026, 11, 20)):
        for kind, on in _dates(received)[1:]:
            assert on.weekday() < 5, (kind, on)
            assert on not in ENGLAND_BANK_HOLIDAYS, (kind, on)


def test_without_bank_holidays_the_schedule_is_the_calendar_one() -> None:
    plan = schedule(
        requested_on=D(2024, 11, 10), due_on=D(2024, 12, 22), policy=HEALTH, ladder_rungs=1
    )
    assert (NoticeKind.DUE_TODAY, D(2024, 12, 22)) in [(n.kind, n.on) for n in plan]


async def test_bundled_bank_holidays_cover_next_year(ts_stack: Stack) -> None:
    """Fails when govuk-bank-holidays' bundled data no longer lists next year: upgrade it."""
    today = await ts_stack.today()
    assert last_covered_year() >= today.year + 1
    assert D(2024, 12, 25) in ENGLAND_BANK_HOLIDAYS
