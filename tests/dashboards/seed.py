"""A small caseload, projected straight into a store, with the figures it must produce.

Dates are relative to ``today`` so the same cases serve the unit tests (a fixed day) and
the live Prometheus test (the real day). ``EXPECTED`` is what ``read_snapshot`` returns for
them with ``at_risk_days=14``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.models import (
    AdviceRequestView,
    CaseView,
    EventView,
    ExceptionView,
    LimitView,
    RequestedBy,
    Stage,
)
from ehc.statutory import REGULATION, STATUTORY, Agency, Anchor, ExceptionKind, Limit, LimitStatus
from ehc.store import repository
from ehc.store.tables import NotificationRow, SubmissionRow

PENDING, MET, BREACHED = LimitStatus.PENDING, LimitStatus.MET, LimitStatus.BREACHED


def _limit(
    limit: Limit,
    due_on: date,
    status: LimitStatus,
    *,
    met_on: date | None = None,
    blocked_by: str | None = None,
    advice_id: str | None = None,
    exceptions: list[str] | None = None,
) -> LimitView:
    return LimitView(
        limit=limit,
        regulation=REGULATION[limit],
        statutory=STATUTORY[limit],
        due_on=due_on,
        met_on=met_on,
        status=status,
        advice_id=advice_id,
        exceptions=exceptions or [],
        blocked_by=blocked_by if status is PENDING else None,
    )


def _advice(
    advice_id: str,
    agency: Agency,
    due_on: date,
    status: LimitStatus,
    received: date | None,
    team: str | None = None,
) -> AdviceRequestView:
    return AdviceRequestView(
        id=advice_id,
        agency=agency,
        team=team,
        regulation="SEND Regs 2014 reg 8(1)",
        requested_on=due_on - timedelta(weeks=6),
        received_by_adviser_on=due_on - timedelta(weeks=6),
        due_on=due_on,
        advice_received_on=received,
        status=status,
    )


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _event(seq: int, kind: str, occurred_on: date, entered_on: date, by: str = "7") -> EventView:
    return EventView(
        seq=seq,
        kind=kind,
        occurred_on=occurred_on,
        entered_at=_at(entered_on),
        entered_by=by,
        detail={},
    )


def _case(
    ref: str,
    stage: Stage,
    today: date,
    *,
    limits: list[LimitView],
    advice: list[AdviceRequestView] | None = None,
    events: list[EventView] | None = None,
    exceptions: list[ExceptionView] | None = None,
    received_on: date | None = None,
) -> CaseView:
    pending = [v.due_on for v in limits if v.status is PENDING and v.statutory]
    return CaseView(
        case_ref=ref,
        stage=stage,
        received_on=received_on or today - timedelta(weeks=8),
        anchor=Anchor.REQUEST,
        requested_by=RequestedBy.PARENT,
        rule_version="v2020post",
        as_of=today,
        limits=limits,
        advice_requests=advice or [],
        exceptions=exceptions or [],
        flags=[],
        events=events or [],
        next_due_on=min(pending) if pending else None,
        breached=any(v.status is BREACHED for v in limits),
    )


def caseload(today: date) -> list[CaseView]:
    d = timedelta
    fp, dta, adv = Limit.FINAL_PLAN, Limit.DECISION_TO_ASSESS, Limit.ADVICE
    exception = ExceptionView(
        id="SEED-5-exc1",
        limit=fp,
        kind=ExceptionKind.PERSONAL_CIRCUMSTANCES,
        starts_on=today - d(60),
        ends_on=today - d(30),
        entered_by="7",
        entered_at=_at(today - d(60)),
    )
    return [
        # Gathering advice: the final plan is due in 10 days and blocked (at risk); health
        # advice is outstanding, not yet due. Entered the same day and 3 days late.
        _case(
            "SEED-1",
            Stage.GATHERING_ADVICE,
            today,
            limits=[
                _limit(dta, today - d(30), MET, met_on=today - d(35)),
                _limit(
                    adv,
                    today + d(30),
                    PENDING,
                    blocked_by="health advice not received",
                    advice_id="SEED-1-adv1",
                ),
                _limit(fp, today + d(10), PENDING, blocked_by="advice outstanding: health"),
            ],
            advice=[_advice("SEED-1-adv1", Agency.HEALTH, today + d(30), PENDING, None)],
            events=[
                _event(1, "request_received", today - d(56), today - d(56)),
                _event(2, "decision_to_assess", today - d(35), today - d(32)),
                _event(3, "advice_requested", today - d(12), today - d(12)),
            ],
        ),
        # Gathering advice late: the decision to assess was breached, social care advice is
        # overdue (its limit breached); the final plan is 40 days away (not at risk).
        _case(
            "SEED-2",
            Stage.GATHERING_ADVICE,
            today,
            limits=[
                _limit(dta, today - d(60), BREACHED, met_on=today - d(50)),
                _limit(adv, today - d(3), BREACHED, advice_id="SEED-2-adv1"),
                _limit(fp, today + d(40), PENDING, blocked_by="advice outstanding: social_care"),
            ],
            advice=[
                _advice(
                    "SEED-2-adv1",
                    Agency.SOCIAL_CARE,
                    today - d(3),
                    BREACHED,
                    None,
                    team="childrens-disability",
                )
            ],
            events=[
                _event(1, "request_received", today - d(56), today - d(55)),
                _event(2, "limit_breached", today - d(59), today - d(59), by="system"),
                _event(3, "decision_to_assess", today - d(50), today - d(40)),
            ],
        ),
        # Plan issued on time 20 days ago; advice left outstanding on a closed case does not
        # count as outstanding.
        _case(
            "SEED-3",
            Stage.PLAN_ISSUED,
            today,
            received_on=today - d(150),
            limits=[
                _limit(fp, today - d(10), MET, met_on=today - d(20)),
            ],
            advice=[_advice("SEED-3-adv1", Agency.EDUCATION, today - d(50), PENDING, None)],
            events=[_event(1, "final_plan_issued", today - d(20), today - d(20))],
        ),
        # Plan issued late 5 days ago, no exception: a final-plan breach.
        _case(
            "SEED-4",
            Stage.PLAN_ISSUED,
            today,
            received_on=today - d(170),
            limits=[
                _limit(fp, today - d(30), BREACHED, met_on=today - d(5)),
            ],
            events=[_event(1, "final_plan_issued", today - d(5), today - d(4))],
        ),
        # Plan issued on time, but the case has an exception on the 20-week limit: an
        # exception case, left out of "excluding exceptions".
        _case(
            "SEED-5",
            Stage.PLAN_ISSUED,
            today,
            received_on=today - d(175),
            limits=[
                _limit(fp, today - d(35), MET, met_on=today - d(40), exceptions=["SEED-5-exc1"]),
            ],
            exceptions=[exception],
            events=[_event(1, "final_plan_issued", today - d(40), today - d(40))],
        ),
        # Plan issued more than a year ago: outside the trailing 12 months.
        _case(
            "SEED-6",
            Stage.PLAN_ISSUED,
            today,
            received_on=today - d(600),
            limits=[
                _limit(fp, today - d(420), MET, met_on=today - d(430)),
            ],
        ),
        # Withdrawn: its unanswered advice request is not applicable.
        _case(
            "SEED-7",
            Stage.WITHDRAWN,
            today,
            limits=[
                _limit(adv, today + d(5), LimitStatus.NOT_APPLICABLE, advice_id="SEED-7-adv1"),
            ],
            advice=[
                _advice(
                    "SEED-7-adv1", Agency.HEALTH, today + d(5), LimitStatus.NOT_APPLICABLE, None
                )
            ],
            events=[_event(1, "withdrawn", today - d(2), today - d(1))],
        ),
        # Just arrived: awaiting the decision to assess, due in 6 weeks (pending, not at risk).
        _case(
            "SEED-8",
            Stage.AWAITING_DECISION_TO_ASSESS,
            today,
            received_on=today,
            limits=[
                _limit(
                    dta,
                    today + d(42),
                    PENDING,
                    blocked_by="decision whether to assess not recorded",
                ),
            ],
            events=[_event(1, "request_received", today, today)],
        ),
    ]


def _stages(**counts: int) -> dict[str, int]:
    base = {
        "awaiting_decision_to_assess": 0,
        "gathering_advice": 0,
        "awaiting_decision_to_issue": 0,
        "drafting": 0,
        "draft_issued": 0,
    }
    return {**base, **counts}


def _limits(**counts: int) -> dict[str, int]:
    base = dict.fromkeys(
        ("decision_to_assess", "advice", "no_plan_notice", "draft_representations", "final_plan"),
        0,
    )
    return {**base, **counts}


def _agencies(**counts: int) -> dict[str, int]:
    return {**{a.value: 0 for a in Agency}, **counts}


EXPECTED: dict[str, Any] = {
    "open_by_stage": _stages(gathering_advice=2, awaiting_decision_to_assess=1),
    "limits_pending": _limits(advice=1, final_plan=2, decision_to_assess=1),
    "limits_at_risk": _limits(final_plan=1),
    "limits_breached": _limits(decision_to_assess=1, advice=1, final_plan=1),
    "assessments_at_risk": 1,
    "advice_outstanding": _agencies(health=1, social_care=1),
    "advice_overdue": _agencies(social_care=1),
    # By (agency, team): every team in the store's directory appears, with 0 if it owes none.
    "advice_overdue_by_team": {("social_care", "childrens-disability"): 1},
    "plans_issued": {"included": 3, "excluded": 2},
    "plans_within_20_weeks": {"included": 2, "excluded": 1},
    # Lag in days -> events, by kind (system events and exceptions are not data entry).
    "entry_lag_days": {
        "request_received": {0: 2, 1: 1},
        "decision_to_assess": {3: 1, 10: 1},
        "advice_requested": {0: 1},
        "advice_received": {},
        "decision_to_issue": {},
        "draft_plan_served": {},
        "final_plan_issued": {0: 2, 1: 1},
        "withdrawn": {1: 1},
    },
}


async def project_caseload(sessions: async_sessionmaker[AsyncSession], today: date) -> None:
    views = caseload(today)
    for view in views:
        async with sessions() as session, session.begin():
            await repository.project_case(session, view)
    await record_chasing(sessions, views, today)


async def record_chasing(
    sessions: async_sessionmaker[AsyncSession], views: list[CaseView], today: date
) -> None:
    """Ledger rows and a refused submission, as chasing and a team would leave them."""
    advice = [a for v in views for a in v.advice_requests]
    async with sessions() as session, session.begin():
        for n, (kind, rung) in enumerate(
            [("request", 0), ("reminder", 0), ("escalation", 1), ("returned_for_quality", 0)]
        ):
            session.add(
                NotificationRow(
                    key=f"{advice[0].id}:{n + 1}:{kind}",
                    advice_id=advice[0].id,
                    agency=advice[0].agency.value,
                    team="community-paediatrics",
                    kind=kind,
                    rung=rung,
                    recipient="team@nhs.example",
                    channel="smtp",
                    status="sent",
                    attempts=1 + (kind == "escalation"),
                    first_attempt_at=_at(today),
                    sent_at=_at(today),
                )
            )
        session.add(
            SubmissionRow(
                advice_id=advice[0].id,
                agency=advice[0].agency.value,
                team=None,
                submitted_on=today,
                accepted=False,
                problems=["outcomes: missing"],
                sections={},
                entered_by="7",
                entered_at=_at(today),
            )
        )
