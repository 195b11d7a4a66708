"""What ``ehc.case_evaluation`` makes of a case's facts on a given day, without Temporal: the
stage a caseworker sees, when the case closed, and which commands it refuses and why.
W1 is statutory-research.md's worked example: request received Monday 2 September 2024."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehc import case_evaluation
from ehc.case_evaluation import CommandRefused
from ehc.models import (
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    FinalPlan,
    Stage,
    Withdrawal,
)
from ehc.statutory import Agency, LimitStatus
from tests.ehc.casefacts import W1_DAY0, advice, case, limit

LATER = W1_DAY0 + timedelta(weeks=30)


def _days(n: int) -> date:
    return W1_DAY0 + timedelta(days=n)


def test_a_case_walks_the_stages_of_rules_md_section_6() -> None:
    facts = case()
    seen = [case_evaluation.stage(facts)]
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=_days(30))
    seen.append(case_evaluation.stage(facts))
    request = advice(facts, Agency.HEALTH, _days(31))
    seen.append(case_evaluation.stage(facts))
    case_evaluation.apply_advice_received(request, _days(60))
    seen.append(case_evaluation.stage(facts))
    facts.decision_to_issue = DecisionToIssue(decision="issue", decided_on=_days(70))
    seen.append(case_evaluation.stage(facts))
    facts.draft_plan = DraftPlan(served_on=_days(90))
    seen.append(case_evaluation.stage(facts))
    facts.final_plan = FinalPlan(issued_on=_days(130))
    seen.append(case_evaluation.stage(facts))
    assert seen == [
        Stage.AWAITING_DECISION_TO_ASSESS,
        Stage.GATHERING_ADVICE,
        Stage.GATHERING_ADVICE,
        Stage.AWAITING_DECISION_TO_ISSUE,
        Stage.DRAFTING,
        Stage.DRAFT_ISSUED,
        Stage.PLAN_ISSUED,
    ]
    assert case_evaluation.closed_on(facts) == _days(130)


@pytest.mark.parametrize(
    ("change", "stage", "closed"),
    [
        (
            {"decision_to_assess": DecisionToAssess(decision="not_assess", decided_on=_days(40))},
            Stage.CLOSED_NOT_ASSESSED,
            _days(40),
        ),
        ({"withdrawal": Withdrawal(withdrawn_on=_days(12))}, Stage.WITHDRAWN, _days(12)),
    ],
)
def test_a_refusal_or_withdrawal_closes_the_case_on_its_date(
    change: dict[str, object], stage: Stage, closed: date
) -> None:
    facts = case().model_copy(update=change)
    assert case_evaluation.stage(facts) is stage
    assert case_evaluation.closed_on(facts) == closed


def test_no_plan_closes_the_case_on_the_decision() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=_days(30))
    facts.decision_to_issue = DecisionToIssue(decision="not_issue", decided_on=_days(100))
    assert case_evaluation.stage(facts) is Stage.CLOSED_NO_PLAN
    assert case_evaluation.closed_on(facts) == _days(100)
    assert case_evaluation.is_settled(facts, LATER)


def test_an_open_case_is_never_settled() -> None:
    assert not case_evaluation.is_settled(case(), LATER)


def test_w1_on_time_decision_is_met_and_the_plan_still_pending() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=date(2024, 10, 14))
    view = case_evaluation.evaluate(facts, date(2024, 10, 20))
    decision = limit(view, "decision_to_assess")
    assert (decision.due_on, decision.status) == (date(2024, 10, 14), LimitStatus.MET)
    final = limit(view, "final_plan")
    assert (final.due_on, final.status) == (date(2025, 1, 20), LimitStatus.PENDING)
    assert view.next_due_on == date(2024, 12, 23)  # the no-plan limit, week 16
    assert not view.breached


def test_an_unmet_decision_is_breached_the_day_after_its_due_date() -> None:
    facts = case()
    on_the_day = case_evaluation.evaluate(facts, date(2024, 10, 14))
    day_after = case_evaluation.evaluate(facts, date(2024, 10, 15))
    assert limit(on_the_day, "decision_to_assess").status is LimitStatus.PENDING
    assert limit(day_after, "decision_to_assess").status is LimitStatus.BREACHED
    assert day_after.breached


@pytest.mark.parametrize(
    ("decided_on", "code"),
    [(W1_DAY0 - timedelta(days=1), "before_day0"), (_days(11), "date_in_future")],
)
def test_a_decision_outside_day0_and_today_is_refused(decided_on: date, code: str) -> None:
    cmd = DecisionToAssess(decision="assess", decided_on=decided_on)
    with pytest.raises(CommandRefused) as refused:
        case_evaluation.check_decision_to_assess(case(), cmd, today=_days(10))
    assert refused.value.code == code
    assert decided_on.isoformat() in refused.value.detail


def test_a_second_decision_is_refused_as_a_conflict() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=_days(5))
    cmd = DecisionToAssess(decision="assess", decided_on=_days(6))
    with pytest.raises(CommandRefused) as refused:
        case_evaluation.check_decision_to_assess(facts, cmd, today=_days(10))
    assert (refused.value.code, refused.value.status) == ("already_decided", 409)


def test_nothing_is_recorded_on_a_withdrawn_case() -> None:
    facts = case()
    facts.withdrawal = Withdrawal(withdrawn_on=_days(3))
    cmd = DecisionToAssess(decision="assess", decided_on=_days(5))
    with pytest.raises(CommandRefused) as refused:
        case_evaluation.check_decision_to_assess(facts, cmd, today=_days(10))
    assert (refused.value.code, refused.value.status) == ("case_closed", 409)


@given(st.integers(min_value=0, max_value=400))
def test_every_limit_of_an_untouched_case_is_due_on_its_statutory_date(day: int) -> None:
    """Whatever the day it is read, nothing recorded moves a due date (rules.md 3)."""
    view = case_evaluation.evaluate(case(), _days(day))
    due = {v.limit.value: v.due_on for v in view.limits}
    assert due["decision_to_assess"] == date(2024, 10, 14)
    assert due["no_plan_notice"] == date(2024, 12, 23)
    assert due["final_plan"] == date(2025, 1, 20)
