"""Rules.md 8.2: regs 4(1), 5(1) and 10(1) are met by the *notice*, not the decision."""

from __future__ import annotations

from datetime import date

import pytest

from ehc import case_evaluation
from ehc.case_evaluation import CommandRefused
from ehc.models import DecisionToAssess, DecisionToIssue
from tests.ehc.casefacts import case, limit

D = date
# W1: Day 0 Mon 2 Sep 2024; 6 weeks Mon 14 Oct 2024; 16 weeks Mon 23 Dec 2024.


def test_panel_on_day_42_with_letter_on_day_45_breaches_reg_5_1() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(
        decision="assess", decided_on=D(2024, 10, 14), notified_on=D(2024, 10, 17)
    )
    d2a = limit(case_evaluation.evaluate(facts, D(2024, 11, 1)), "decision_to_assess")
    assert d2a.status.value == "breached"
    assert d2a.met_on == D(2024, 10, 17)


def test_notice_defaults_to_the_decision_date_when_sent_the_same_day() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 14))
    d2a = limit(case_evaluation.evaluate(facts, D(2024, 11, 1)), "decision_to_assess")
    assert (d2a.status.value, d2a.met_on) == ("met", D(2024, 10, 14))


def test_no_plan_notice_sent_after_week_16_breaches_reg_10_1_though_decided_in_time() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    facts.decision_to_issue = DecisionToIssue(
        decision="not_issue", decided_on=D(2024, 12, 20), notified_on=D(2024, 12, 27)
    )
    assert (
        limit(case_evaluation.evaluate(facts, D(2025, 1, 5)), "no_plan_notice").status == "breached"
    )


@pytest.mark.parametrize(
    ("notified_on", "code"),
    [(D(2024, 10, 10), "invalid_dates"), (D(2024, 11, 2), "date_in_future")],
    ids=["before_the_decision", "in_the_future"],
)
def test_a_notice_before_its_decision_or_in_the_future_is_refused(
    notified_on: date, code: str
) -> None:
    cmd = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 14), notified_on=notified_on)
    with pytest.raises(CommandRefused) as info:
        case_evaluation.check_decision_to_assess(case(), cmd, D(2024, 11, 1))
    assert info.value.code == code
