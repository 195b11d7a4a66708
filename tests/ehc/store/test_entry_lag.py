"""The data-entry lag counts kept as events are written equal a recount from every event,
through a case's whole life with a correction, a withdrawal undone, re-projections of
the same and of older views, and an audit line added after the case closed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc import case_evaluation, corrections
from ehc.case_evaluation import CaseFacts
from ehc.models import (
    AssessmentInput,
    CaseView,
    Correction,
    DecisionToAssess,
    DecisionToIssue,
    FinalPlan,
    RequestedBy,
    Withdrawal,
)
from ehc.statutory import london_date
from ehc.store import metrics_queries, repository
from ehc.store.entry_lag import ENTERED_EVENT_KINDS

Sessions = async_sessionmaker[AsyncSession]

DAY0 = date(2025, 3, 3)
TODAY = date(2025, 9, 1)


def entered(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def kept_and_recounted(db: Sessions) -> tuple[dict[str, dict[int, int]], ...]:
    async with db() as session:
        kept = await metrics_queries.entry_lag_days(session)
        recounted = await metrics_queries.recount_entry_lag_days(session)
    return kept, recounted


async def project(db: Sessions, view: CaseView) -> None:
    async with db() as session, session.begin():
        await repository.project_case(session, view)


async def test_kept_counts_equal_the_recount_through_a_case_life(db: Sessions) -> None:
    f = CaseFacts(
        case=AssessmentInput(
            case_ref="LAG-LIFE", received_on=DAY0, requested_by=RequestedBy.PARENT, entered_by="1"
        )
    )
    views: list[CaseView] = []

    async def step() -> None:
        view = case_evaluation.evaluate(f, TODAY)
        views.append(view)
        await project(db, view)
        kept, recounted = await kept_and_recounted(db)
        assert kept == recounted

    # Entered two days late, at 23:30 UTC in winter: still the same day in England.
    f.add_event("request_received", DAY0, entered(DAY0 + timedelta(days=2), 23, 30), "1")
    await step()
    # A decision entered at 23:30 UTC in summer (00:30 the next day in England): lag 1.
    decided = DAY0 + timedelta(weeks=5)
    f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=decided)
    f.add_event("decision_to_assess", decided, entered(decided, 23, 30), "1", decision="assess")
    await step()
    # A correction moves the decision a week earlier: the original event keeps its lag,
    # the correction itself is not data entry.
    fix = Correction(event_id=2, changes={"decided_on": (decided - timedelta(weeks=1)).isoformat()})
    corrections.check_correction(f, fix, TODAY)
    f, _, on, detail = corrections.corrected(f, fix)
    f.add_event("corrected", on, entered(decided + timedelta(days=3), 10), "1", **detail)
    await step()
    # Withdrawn by mistake (entered a day before it happened: clock skew counts as 0),
    # then undone.
    withdrawn = DAY0 + timedelta(weeks=8)
    f.withdrawal = Withdrawal(withdrawn_on=withdrawn)
    f.add_event("withdrawn", withdrawn, entered(withdrawn - timedelta(days=1), 9), "1")
    await step()
    f, undone = corrections.reopened(f)
    f.add_event("reopened", withdrawn, entered(withdrawn, 11), "1", undoes=str(undone.seq))
    await step()
    issue_on = DAY0 + timedelta(weeks=14)
    f.decision_to_issue = DecisionToIssue(decision="issue", decided_on=issue_on)
    f.add_event("decision_to_issue", issue_on, entered(issue_on + timedelta(days=30), 8), "1")
    await step()
    plan_on = DAY0 + timedelta(weeks=19)
    f.final_plan = FinalPlan(issued_on=plan_on)
    f.add_event("final_plan_issued", plan_on, entered(plan_on, 16), "1")
    await step()

    # The same view again, and an older view (a rebuild racing the worker), add nothing.
    await project(db, views[-1])
    await project(db, views[2])
    # An audit line written straight to the store after the case closed.
    async with db() as session, session.begin():
        await repository.append_event(
            session,
            case_ref="LAG-LIFE",
            kind="child_details_changed",
            occurred_on=TODAY,
            entered_by="1",
            detail={"fields": "upn"},
        )
    kept, recounted = await kept_and_recounted(db)
    assert kept == recounted
    entered_events = [e for e in f.events if e.kind in ENTERED_EVENT_KINDS]
    expected = Counter(
        (e.kind, max((london_date(e.entered_at) - e.occurred_on).days, 0)) for e in entered_events
    )
    assert {(k, lag): n for k, lags in kept.items() for lag, n in lags.items()} == expected
    assert kept["decision_to_assess"] == {1: 1}
    assert kept["withdrawn"] == {0: 1}
    assert kept["decision_to_issue"] == {30: 1}


async def test_a_case_opened_by_the_api_is_counted_once(db: Sessions) -> None:
    f = CaseFacts(
        case=AssessmentInput(
            case_ref="LAG-OPEN", received_on=DAY0, requested_by=RequestedBy.PARENT, entered_by="1"
        )
    )
    f.add_event("request_received", DAY0, entered(DAY0 + timedelta(days=4), 12), "1")
    view = case_evaluation.evaluate(f, TODAY)
    async with db() as session, session.begin():
        assert await repository.record_opened_case(
            session, view=view, start={"case_ref": "LAG-OPEN"}, at=entered(TODAY, 9)
        )
    await project(db, view)  # the workflow's first projection finds the same event
    kept, recounted = await kept_and_recounted(db)
    assert kept == recounted
    assert kept["request_received"] == {4: 1}


async def test_the_benchs_loader_keeps_the_counts_as_the_projection_does(db: Sessions) -> None:
    from bench.readside import load

    cases, _, refs = await load(db, 40, date(2026, 11, 30))
    kept, recounted = await kept_and_recounted(db)
    assert cases == len(refs) > 0
    assert kept == recounted
    assert sum(n for lags in kept.values() for n in lags.values()) > cases
