"""The chasing schedule (``ehc.chasing``) on the calendar, without a server: what a team is
sent, in which order, and what a request entered late sends today."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ehc.chasing import ChasingPolicy, NoticeKind, due_now, schedule, still_to_come
from ehc.workdays import ENGLAND_BANK_HOLIDAYS

REQUESTED = date(2024, 10, 7)  # a Monday
DUE = REQUESTED + timedelta(weeks=6)


def test_the_default_policy_chases_by_the_book() -> None:
    plan = schedule(requested_on=REQUESTED, due_on=DUE, policy=ChasingPolicy(), ladder_rungs=3)
    head = [(n.kind, (n.on - REQUESTED).days, n.rung) for n in plan[:8]]
    assert head == [
        (NoticeKind.REQUEST, 0, 0),
        (NoticeKind.REMINDER, 28, 0),
        (NoticeKind.REMINDER, 35, 0),
        (NoticeKind.DUE_TODAY, 42, 0),
        (NoticeKind.OVERDUE, 43, 0),
        (NoticeKind.ESCALATION, 43, 1),
        (NoticeKind.ESCALATION, 50, 2),
        (NoticeKind.ESCALATION, 57, 3),
    ]
    assert plan[8].rung == 3  # the top rung keeps being told
    assert len([n for n in plan if n.kind is NoticeKind.ESCALATION]) == 26


def test_a_team_with_no_ladder_gets_no_escalations() -> None:
    plan = schedule(requested_on=REQUESTED, due_on=DUE, policy=ChasingPolicy(), ladder_rungs=0)
    assert NoticeKind.ESCALATION not in {n.kind for n in plan}
    assert plan[-1].kind is NoticeKind.OVERDUE


def test_a_request_entered_today_sends_only_the_request_now() -> None:
    plan = schedule(requested_on=REQUESTED, due_on=DUE, policy=ChasingPolicy(), ladder_rungs=3)
    assert [n.kind for n in due_now(plan, REQUESTED)] == [NoticeKind.REQUEST]
    assert len(still_to_come(plan, REQUESTED)) == len(plan) - 1


policies = st.builds(
    ChasingPolicy,
    reminder_days_before=st.lists(st.integers(1, 41), max_size=3, unique=True).map(tuple),
    remind_on_due_date=st.booleans(),
    escalate_every_days=st.integers(1, 14),
    max_weeks_overdue=st.integers(1, 30),
)


@given(
    requested=st.dates(min_value=date(2020, 1, 1), max_value=date(2028, 6, 30)),
    policy=policies,
    rungs=st.integers(0, 4),
    working_days=st.booleans(),
)
def test_every_schedule_is_numbered_in_order_and_never_moves_the_due_date(
    requested: date, policy: ChasingPolicy, rungs: int, working_days: bool
) -> None:
    due = requested + timedelta(weeks=6)
    holidays = ENGLAND_BANK_HOLIDAYS if working_days else None
    plan = schedule(
        requested_on=requested, due_on=due, policy=policy, ladder_rungs=rungs, holidays=holidays
    )
    assert [n.seq for n in plan] == list(range(1, len(plan) + 1))
    assert plan[0].kind is NoticeKind.REQUEST
    assert plan[0].on == requested
    assert [n.on for n in plan] == sorted(n.on for n in plan)
    assert all(n.on > due for n in plan if n.kind in (NoticeKind.OVERDUE, NoticeKind.ESCALATION))
    assert all(n.on <= due for n in plan if n.kind in (NoticeKind.REMINDER, NoticeKind.DUE_TODAY))
    assert all(0 <= n.rung <= rungs for n in plan)


@given(
    requested=st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    late_by=st.integers(0, 120),
)
def test_a_late_entry_never_sends_a_notice_dated_in_the_future(
    requested: date, late_by: int
) -> None:
    plan = schedule(
        requested_on=requested,
        due_on=requested + timedelta(weeks=6),
        policy=ChasingPolicy(),
        ladder_rungs=3,
    )
    today = requested + timedelta(days=late_by)
    now = due_now(plan, today)
    assert now  # somebody is told at once
    assert all(n.on <= today for n in now)
    assert {n.seq for n in now}.isdisjoint(n.seq for n in still_to_come(plan, today))
