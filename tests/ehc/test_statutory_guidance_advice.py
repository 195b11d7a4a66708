"""Rules.md 8.4: reg 8 advice is statute; CoP 9.41 advice is guidance, kept apart."""

from __future__ import annotations

from datetime import date

import pytest

from ehc import case_evaluation
from ehc.case_evaluation import CommandRefused
from ehc.models import DecisionToAssess, ExceptionCommand
from ehc.statutory import Agency, ExceptionKind, Limit
from tests.ehc.casefacts import advice, case, limit

D = date


def _assessing() -> case_evaluation.CaseFacts:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    return facts


def test_reg_8_health_advice_is_statutory_and_timed_from_the_bodys_receipt() -> None:
    facts = _assessing()
    request = advice(facts, Agency.HEALTH, D(2024, 10, 10), received_on=D(2024, 10, 14))
    view = case_evaluation.evaluate(facts, D(2024, 10, 20))
    lim = limit(view, "advice", request.id)
    assert (lim.statutory, lim.due_on) == (True, D(2024, 11, 25))


@pytest.mark.parametrize(
    "agency", [Agency.EDUCATION, Agency.EDUCATIONAL_PSYCHOLOGY, Agency.SOCIAL_CARE]
)
def test_cop_9_41_advice_is_guidance_timed_from_the_request(agency: Agency) -> None:
    facts = _assessing()
    request = advice(facts, agency, D(2024, 10, 10), received_on=D(2024, 10, 14))
    view = case_evaluation.evaluate(facts, D(2024, 10, 20))
    lim = limit(view, "advice", request.id)
    assert (lim.statutory, lim.due_on) == (False, D(2024, 11, 21))
    assert view.advice_requests[0].statutory is False
    assert view.advice_requests[0].due_on == D(2024, 11, 21)


def test_late_guidance_advice_never_makes_the_case_breached() -> None:
    facts = _assessing()
    request = advice(facts, Agency.EDUCATION, D(2024, 10, 10))
    view = case_evaluation.evaluate(facts, D(2024, 12, 2))
    assert limit(view, "advice", request.id).status == "breached"
    assert not view.breached
    health = advice(facts, Agency.HEALTH, D(2024, 10, 10))
    view = case_evaluation.evaluate(facts, D(2024, 12, 2))
    assert limit(view, "advice", health.id).status == "breached"
    assert view.breached


def test_missed_appointment_refused_on_guidance_advice() -> None:
    facts = _assessing()
    request = advice(facts, Agency.EDUCATIONAL_PSYCHOLOGY, D(2024, 10, 10))
    cmd = ExceptionCommand(
        limit=Limit.ADVICE,
        kind=ExceptionKind.MISSED_APPOINTMENT,
        starts_on=D(2024, 11, 4),
        advice_id=request.id,
    )
    with pytest.raises(CommandRefused) as info:
        case_evaluation.check_exception(facts, cmd, D(2024, 11, 10))
    assert "reg 8(2)(c)" in info.value.detail
    health = advice(facts, Agency.HEALTH, D(2024, 10, 10))
    on_health = cmd.model_copy(update={"advice_id": health.id})
    case_evaluation.check_exception(facts, on_health, D(2024, 11, 10))


def test_guidance_advice_exception_period_runs_from_the_request() -> None:
    facts = _assessing()
    request = advice(facts, Agency.EDUCATION, D(2024, 10, 1), received_on=D(2024, 10, 20))
    assert case_evaluation.advice_period(facts, request) == (D(2024, 10, 1), D(2024, 11, 12))
