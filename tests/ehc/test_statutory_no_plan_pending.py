"""Rules.md 8.3: reg 10(1)'s 16-week limit applies only to a "no plan" outcome."""

from __future__ import annotations

from datetime import date

from ehc import case_evaluation
from ehc.models import DecisionToAssess, DecisionToIssue, Withdrawal
from tests.ehc.casefacts import case, limit

D = date
AFTER_WEEK_16 = D(2025, 1, 6)  # W1's no-plan date is Mon 23 Dec 2024


def _assessing() -> case_evaluation.CaseFacts:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    return facts


def test_no_plan_limit_stays_pending_and_at_risk_after_week_16_without_a_decision() -> None:
    view = case_evaluation.evaluate(_assessing(), AFTER_WEEK_16)
    no_plan = limit(view, "no_plan_notice")
    assert no_plan.status == "pending"
    assert no_plan.at_risk
    assert not view.breached


def test_no_plan_limit_not_applicable_when_the_outcome_is_to_issue() -> None:
    facts = _assessing()
    facts.decision_to_issue = DecisionToIssue(decision="issue", decided_on=D(2025, 1, 3))
    assert limit(case_evaluation.evaluate(facts, AFTER_WEEK_16), "no_plan_notice").status == (
        "not_applicable"
    )


def test_no_plan_limit_met_by_a_timely_no_plan_notice() -> None:
    facts = _assessing()
    facts.decision_to_issue = DecisionToIssue(decision="not_issue", decided_on=D(2024, 12, 23))
    assert limit(case_evaluation.evaluate(facts, AFTER_WEEK_16), "no_plan_notice").status == "met"


def test_no_plan_limit_not_applicable_when_withdrawn_after_week_16_without_a_decision() -> None:
    facts = _assessing()
    facts.withdrawal = Withdrawal(withdrawn_on=D(2025, 1, 2))
    assert limit(case_evaluation.evaluate(facts, AFTER_WEEK_16), "no_plan_notice").status == (
        "not_applicable"
    )


def test_original_reading_still_shows_the_provisional_breach_for_old_histories() -> None:
    facts = _assessing()
    facts.reading = case_evaluation.ORIGINAL_READING
    assert (
        limit(case_evaluation.evaluate(facts, AFTER_WEEK_16), "no_plan_notice").status == "breached"
    )
