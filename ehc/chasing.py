"""When advisers are told, reminded and escalated: pure scheduling, no I/O, no clock.

Each advice request has its own 6-week clock (Reg 8(1) for health and other bodies under
the duty to co-operate; CoP 9.41 for everyone else). The default policy (configurable per
agency): a request notice at once; reminders 14 and 7 days before the due date and on it;
the day after, an overdue notice to the team and the first escalation; then weekly, one
rung further up the escalation ladder each time, until the advice arrives or the request
is withdrawn.

Notices go out on working days in England (rules.md 8.5): given the bank holidays, a
reminder (and the due-today notice) falling on a weekend or bank holiday moves to the
previous working day, an overdue notice or escalation to the next. Due dates never move.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class NoticeKind(StrEnum):
    REQUEST = "request"
    REMINDER = "reminder"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    RETURNED_FOR_QUALITY = "returned_for_quality"


class ChasingPolicy(BaseModel):
    """How one agency is chased. Loaded from the team directory."""

    model_config = ConfigDict(frozen=True)

    reminder_days_before: tuple[int, ...] = (14, 7)
    remind_on_due_date: bool = True
    escalate_every_days: int = Field(default=7, ge=1)
    max_weeks_overdue: int = Field(default=26, ge=1, description="stop escalating after this")
    digest: bool = Field(
        default=False,
        description="gather a recipient's notices of the same day into one message",
    )


class PlannedNotice(BaseModel):
    """One message the schedule calls for. ``rung`` 0 is the team itself."""

    model_config = ConfigDict(frozen=True)

    seq: int
    kind: NoticeKind
    on: date
    rung: int = 0


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    """Monday to Friday and not a bank holiday in England (rules.md 1)."""
    return day.weekday() < 5 and day not in holidays


def working_day_on_or_before(day: date, holidays: frozenset[date]) -> date:
    while not is_working_day(day, holidays):
        day -= timedelta(days=1)
    return day


def working_day_on_or_after(day: date, holidays: frozenset[date]) -> date:
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


_EARLIER = (NoticeKind.REMINDER, NoticeKind.DUE_TODAY)
_LATER = (NoticeKind.OVERDUE, NoticeKind.ESCALATION)


def schedule(
    *,
    requested_on: date,
    due_on: date,
    policy: ChasingPolicy,
    ladder_rungs: int,
    holidays: frozenset[date] | None = None,
) -> list[PlannedNotice]:
    """Every notice for one advice request, in date order, numbered from 1.

    ``ladder_rungs`` counts the people above the team (service lead, DCO or team manager,
    the council's SEND manager): escalations climb one rung a time and stay on the top one.
    With ``holidays`` (England's bank holidays), notices move onto working days: reminders
    earlier, overdue notices and escalations later (a reminder that would move onto or
    before the request is dropped). Without it, the calendar schedule.
    """
    plan = _calendar_plan(
        requested_on=requested_on, due_on=due_on, policy=policy, ladder_rungs=ladder_rungs
    )
    if holidays is not None:
        plan = _on_working_days(plan, requested_on, holidays)
    return [PlannedNotice(seq=i, kind=k, on=on, rung=r) for i, (k, on, r) in enumerate(plan, 1)]


def _on_working_days(
    plan: list[tuple[NoticeKind, date, int]], requested_on: date, holidays: frozenset[date]
) -> list[tuple[NoticeKind, date, int]]:
    moved: list[tuple[NoticeKind, date, int]] = []
    for kind, on, rung in plan:
        if kind in _EARLIER:
            on = working_day_on_or_before(on, holidays)
            if on <= requested_on:
                continue
        elif kind in _LATER:
            on = working_day_on_or_after(on, holidays)
        moved.append((kind, on, rung))
    return moved


def _calendar_plan(
    *, requested_on: date, due_on: date, policy: ChasingPolicy, ladder_rungs: int
) -> list[tuple[NoticeKind, date, int]]:
    plan: list[tuple[NoticeKind, date, int]] = [(NoticeKind.REQUEST, requested_on, 0)]
    for days in sorted(policy.reminder_days_before, reverse=True):
        on = due_on - timedelta(days=days)
        if on > requested_on:
            plan.append((NoticeKind.REMINDER, on, 0))
    if policy.remind_on_due_date and due_on > requested_on:
        plan.append((NoticeKind.DUE_TODAY, due_on, 0))
    first_late = due_on + timedelta(days=1)
    plan.append((NoticeKind.OVERDUE, first_late, 0))
    rounds = policy.max_weeks_overdue * 7 // policy.escalate_every_days
    for n in range(rounds):
        if ladder_rungs == 0:
            break
        on = first_late + timedelta(days=n * policy.escalate_every_days)
        plan.append((NoticeKind.ESCALATION, on, min(n + 1, ladder_rungs)))
    return plan


def due_now(plan: list[PlannedNotice], today: date) -> list[PlannedNotice]:
    """What a request entered late should send today: not a burst of past reminders.

    Notices dated today are due. Of the past ones, only those on the latest past date are
    sent (the current state: "overdue, escalated to rung 2"), so nobody is left unaware.
    """
    past = [n for n in plan if n.on < today]
    latest = max((n.on for n in past), default=None)
    return [n for n in plan if n.on == today or (latest is not None and n.on == latest)]


def still_to_come(plan: list[PlannedNotice], today: date) -> list[PlannedNotice]:
    return [n for n in plan if n.on > today]
