"""Corrections and reopening as pure rules: the corrected facts must be a history the
original commands would have accepted, refused with the same sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ehc import case_evaluation, corrections
from ehc.case_evaluation import CaseFacts, CommandRefused
from ehc.models import (
    AssessmentInput,
    Correction,
    DecisionToAssess,
    DecisionToIssue,
    ExceptionCommand,
    ExceptionView,
    RequestedBy,
    Stage,
    Withdrawal,
)
from ehc.statutory import ExceptionKind, Limit

DAY0 = date(2025, 1, 6)
TODAY = date(2025, 6, 2)
AT = datetime(2025, 6, 2, 12, tzinfo=UTC)


def facts() -> CaseFacts:
    f = CaseFacts(
        case=AssessmentInput(
            case_ref="C-1", received_on=DAY0, requested_by=RequestedBy.PARENT, entered_by="1"
        )
    )
    f.add_event("request_received", DAY0, AT, "1")
    f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=DAY0 + timedelta(weeks=5))
    f.add_event("decision_to_assess", f.decision_to_assess.decided_on, AT, "1", decision="assess")
    return f


def refusal(call: object) -> CommandRefused:
    with pytest.raises(CommandRefused) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_a_decision_to_issue_moved_before_the_decision_to_assess_is_refused_as_entry_was() -> None:
    f = facts()
    f.decision_to_issue = DecisionToIssue(decision="issue", decided_on=DAY0 + timedelta(weeks=12))
    event = f.add_event("decision_to_issue", DAY0 + timedelta(weeks=12), AT, "1")
    early = DAY0 + timedelta(weeks=4)
    fix = Correction(event_id=event.seq, changes={"decided_on": early.isoformat()})
    got = refusal(lambda: corrections.check_correction(f, fix, TODAY))
    fresh = facts()
    direct = refusal(
        lambda: case_evaluation.check_decision_to_issue(
            fresh, DecisionToIssue(decision="issue", decided_on=early), TODAY
        )
    )
    assert (
        (got.code, got.detail)
        == (direct.code, direct.detail)
        == (
            "invalid_dates",
            "The decision to issue cannot come before the decision to assess.",
        )
    )


def test_an_exception_corrected_onto_a_kind_the_law_refuses_is_refused() -> None:
    f = facts()
    f.exceptions.append(
        ExceptionView(
            id="C-1-exc1",
            limit=Limit.FINAL_PLAN,
            kind=ExceptionKind.PERSONAL_CIRCUMSTANCES,
            starts_on=DAY0 + timedelta(weeks=6),
            entered_by="1",
            entered_at=AT,
        )
    )
    event = f.add_event("exception_recorded", DAY0, AT, "1", exception_id="C-1-exc1")
    fix = Correction(event_id=event.seq, changes={"kind": "missed_appointment"})
    got = refusal(lambda: corrections.check_correction(f, fix, TODAY))
    direct = refusal(
        lambda: case_evaluation.check_exception(
            facts(),
            ExceptionCommand(
                limit=Limit.FINAL_PLAN,
                kind=ExceptionKind.MISSED_APPOINTMENT,
                starts_on=DAY0 + timedelta(weeks=6),
            ),
            TODAY,
        )
    )
    assert (got.code, got.detail) == (direct.code, direct.detail)


def test_system_events_cannot_be_corrected_and_corrections_chain_to_the_original() -> None:
    f = facts()
    breach = f.add_event("limit_breached", DAY0, AT, "system", limit="final_plan")
    got = refusal(
        lambda: corrections.check_correction(
            f, Correction(event_id=breach.seq, changes={"on": "2025-01-07"}), TODAY
        )
    )
    assert got.code == "not_correctable"
    new, target, on, detail = corrections.corrected(
        f, Correction(event_id=2, changes={"decided_on": "2025-02-03"})
    )
    assert (target.seq, on, detail["decided_on_was"]) == (2, date(2025, 2, 3), "2025-02-10")
    assert new.decision_to_assess is not None
    assert f.decision_to_assess is not None
    assert f.decision_to_assess.decided_on == date(2025, 2, 10)  # the original is untouched


def test_a_refusal_to_assess_entered_by_mistake_is_undone_whole() -> None:
    f = facts()
    f.decision_to_assess = DecisionToAssess(decision="not_assess", decided_on=DAY0)
    assert case_evaluation.stage(f) is Stage.CLOSED_NOT_ASSESSED
    corrections.check_reopen(f, TODAY)
    new, undone = corrections.reopened(f)
    assert undone.kind == "decision_to_assess"
    assert case_evaluation.stage(new) is Stage.AWAITING_DECISION_TO_ASSESS
    got = refusal(lambda: corrections.check_reopen(new, TODAY))
    assert got.code == "not_reopenable"


def test_a_corrected_withdrawal_can_still_be_undone() -> None:
    f = facts()
    f.withdrawal = Withdrawal(withdrawn_on=DAY0 + timedelta(weeks=8))
    event = f.add_event("withdrawn", DAY0 + timedelta(weeks=8), AT, "1")
    fix = Correction(event_id=event.seq, changes={"withdrawn_on": "2025-03-10"})
    corrections.check_correction(f, fix, TODAY)
    f, _, on, _ = corrections.corrected(f, fix)
    f.add_event("corrected", on, AT, "1", corrects=str(event.seq))
    new, undone = corrections.reopened(f)
    assert undone.seq == event.seq
    assert new.withdrawal is None
    assert case_evaluation.stage(new) is Stage.GATHERING_ADVICE


def test_the_returns_read_the_trail_as_corrected_and_reopened() -> None:
    from ehc.reports.outcomes import outcome_as_at
    from ehc.store.report_queries import CaseRecord, EventRecord

    events = (
        EventRecord(1, "request_received", DAY0),
        EventRecord(2, "decision_to_assess", DAY0 + timedelta(weeks=7), {"decision": "assess"}),
        EventRecord(
            3,
            "corrected",
            DAY0 + timedelta(weeks=5),
            {"corrects": "2", "decided_on": "2025-02-10", "decided_on_was": "2025-02-24"},
        ),
        EventRecord(4, "withdrawn", DAY0 + timedelta(weeks=8)),
        EventRecord(5, "reopened", DAY0 + timedelta(weeks=9), {"undoes": "4"}),
    )
    case = CaseRecord("C-1", "gathering_advice", DAY0, "request", events)
    outcome = outcome_as_at(case, TODAY)
    assert outcome.assess_on == DAY0 + timedelta(weeks=5)
    assert outcome.decided_within_6_weeks is True
    assert outcome.withdrawn_on is None
