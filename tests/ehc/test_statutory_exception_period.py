"""Rules.md 8.1: an exception's circumstance must arise in the limit's own period.

Regs 5(4), 10(4) and 13(3) say "during that time period", reg 8(2) "during that 6 week
period"; the closure limbs key on the date the LA asked the institution for advice. Dates
in the future are refused. Literal dates from worked examples W1, W2 and W5.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ehc import case_evaluation
from ehc.models import DecisionToAssess, DecisionToIssue, DraftPlan, ExceptionView, FinalPlan
from ehc.statutory import (
    Closure,
    ExceptionClaim,
    ExceptionKind,
    ExceptionRefused,
    Limit,
    limb,
    validate_exception,
)
from tests.ehc.casefacts import case, limit

D = date
W1_DAY0 = D(2024, 9, 2)
W1_FINAL = D(2025, 1, 20)
W2_DAY0 = D(2024, 6, 3)
W2_FINAL = D(2024, 10, 21)


def _refusal(claim: ExceptionClaim, start: date, due: date, **kw: object) -> ExceptionRefused:
    with pytest.raises(ExceptionRefused) as info:
        validate_exception(claim, period_starts_on=start, due_on=due, **kw)  # type: ignore[arg-type]
    return info.value


def test_personal_circumstances_months_after_the_plan_are_refused_with_the_regs_words() -> None:
    claim = ExceptionClaim(
        Limit.FINAL_PLAN, ExceptionKind.PERSONAL_CIRCUMSTANCES, starts_on=D(2025, 5, 1)
    )
    exc = _refusal(claim, W1_DAY0, W1_FINAL, today=D(2025, 6, 1))
    assert exc.rule == "reg 13(3) with reg 10(4)(c)"
    assert "during that time period" in exc.reason
    assert "2024-09-02 to 2025-01-20" in exc.reason


def test_personal_circumstances_recorded_after_the_plan_but_about_the_period_are_accepted() -> None:
    claim = ExceptionClaim(
        Limit.FINAL_PLAN,
        ExceptionKind.PERSONAL_CIRCUMSTANCES,
        starts_on=D(2024, 12, 1),
        ends_on=D(2025, 2, 1),
    )
    validate_exception(claim, period_starts_on=W1_DAY0, due_on=W1_FINAL, today=D(2025, 6, 1))


def test_personal_circumstances_without_a_start_date_are_refused() -> None:
    claim = ExceptionClaim(Limit.NO_PLAN_NOTICE, ExceptionKind.PERSONAL_CIRCUMSTANCES)
    assert _refusal(claim, W1_DAY0, D(2024, 12, 23)).rule == "reg 10(4)(c)"


def test_school_closure_requested_in_its_window_but_after_the_period_is_refused() -> None:
    # Summer 2025 closure; the request falls in its window but after W2's 20 weeks.
    closure = Closure(D(2025, 7, 19), D(2025, 9, 3), advice_requested_on=D(2025, 7, 15))
    claim = ExceptionClaim(Limit.FINAL_PLAN, ExceptionKind.SCHOOL_CLOSURE, closure=closure)
    exc = _refusal(claim, W2_DAY0, W2_FINAL, today=D(2025, 10, 1))
    assert exc.rule == "reg 13(3) with reg 10(4)(a)"
    assert "does not fall within" in exc.reason


def test_w2_school_closure_inside_window_and_period_is_accepted() -> None:
    closure = Closure(D(2024, 7, 20), D(2024, 9, 3), advice_requested_on=D(2024, 7, 15))
    claim = ExceptionClaim(Limit.FINAL_PLAN, ExceptionKind.SCHOOL_CLOSURE, closure=closure)
    validate_exception(claim, period_starts_on=W2_DAY0, due_on=W2_FINAL, today=D(2024, 11, 1))


@pytest.mark.parametrize(
    "claim",
    [
        ExceptionClaim(
            Limit.FINAL_PLAN, ExceptionKind.PERSONAL_CIRCUMSTANCES, starts_on=D(2024, 11, 2)
        ),
        ExceptionClaim(
            Limit.FINAL_PLAN,
            ExceptionKind.ABSENT_FROM_AREA,
            starts_on=D(2024, 10, 1),
            ends_on=D(2024, 11, 30),
        ),
        ExceptionClaim(
            Limit.FINAL_PLAN,
            ExceptionKind.SCHOOL_CLOSURE,
            closure=Closure(D(2024, 11, 3), D(2025, 1, 6), advice_requested_on=D(2024, 10, 30)),
        ),
    ],
    ids=["circumstances", "absence", "closure"],
)
def test_dates_in_the_future_are_refused(claim: ExceptionClaim) -> None:
    exc = _refusal(claim, W1_DAY0, W1_FINAL, today=D(2024, 11, 1))
    assert "in the future" in exc.reason


def test_a_planned_reopening_date_may_lie_ahead() -> None:
    closure = Closure(D(2024, 7, 20), D(2024, 9, 3), advice_requested_on=D(2024, 7, 15))
    claim = ExceptionClaim(Limit.NO_PLAN_NOTICE, ExceptionKind.SCHOOL_CLOSURE, closure=closure)
    validate_exception(claim, period_starts_on=W2_DAY0, due_on=D(2024, 9, 23), today=D(2024, 8, 1))


def test_missed_appointment_is_reg_8_2_c_for_reg_8_bodies_only() -> None:
    claim = ExceptionClaim(Limit.ADVICE, ExceptionKind.MISSED_APPOINTMENT, starts_on=D(2024, 11, 4))
    validate_exception(claim, period_starts_on=D(2024, 10, 14), due_on=D(2024, 11, 25))
    exc = _refusal(claim, D(2024, 10, 14), D(2024, 11, 25), reg8_body=False)
    assert exc.rule == "reg 8(2)(c)"
    assert "regulation 8" in exc.reason


def test_reg_5_4_has_three_limbs_and_no_early_years_closure() -> None:
    assert limb(Limit.DECISION_TO_ASSESS, ExceptionKind.SCHOOL_CLOSURE) == "reg 5(4)(a)"
    assert limb(Limit.DECISION_TO_ASSESS, ExceptionKind.PERSONAL_CIRCUMSTANCES) == "reg 5(4)(b)"
    assert limb(Limit.DECISION_TO_ASSESS, ExceptionKind.ABSENT_FROM_AREA) == "reg 5(4)(c)"
    assert limb(Limit.NO_PLAN_NOTICE, ExceptionKind.EARLY_YEARS_CLOSURE) == "reg 10(4)(b)"
    closure = Closure(D(2024, 7, 20), D(2024, 9, 3), advice_requested_on=D(2024, 7, 15))
    claim = ExceptionClaim(
        Limit.DECISION_TO_ASSESS, ExceptionKind.EARLY_YEARS_CLOSURE, closure=closure
    )
    exc = _refusal(claim, D(2024, 7, 1), D(2024, 8, 12))
    assert exc.rule == "reg 5(4)"
    assert "early years closure" in exc.reason


def test_an_exception_recorded_before_this_rule_outside_its_period_no_longer_excuses() -> None:
    facts = case()  # W1: final plan due Mon 20 Jan 2025
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    facts.decision_to_issue = DecisionToIssue(decision="issue", decided_on=D(2024, 12, 1))
    facts.draft_plan = DraftPlan(served_on=D(2024, 12, 2))
    facts.final_plan = FinalPlan(issued_on=D(2025, 2, 3))
    facts.exceptions.append(
        ExceptionView(
            id="T-1-exc1",
            limit=Limit.FINAL_PLAN,
            kind=ExceptionKind.PERSONAL_CIRCUMSTANCES,
            starts_on=D(2025, 5, 1),
            entered_by="1",
            entered_at=datetime(2025, 6, 1, tzinfo=UTC),
        )
    )
    view = case_evaluation.evaluate(facts, D(2025, 6, 2))
    assert limit(view, "final_plan").status == "breached"
    assert limit(view, "final_plan").exceptions == []
    facts.reading = case_evaluation.ORIGINAL_READING  # as the case was evaluated before
    assert limit(case_evaluation.evaluate(facts, D(2025, 6, 2)), "final_plan").status == "exception"
