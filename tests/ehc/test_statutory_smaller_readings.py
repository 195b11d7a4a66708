"""Rules.md 8.7: rule version per limit, the family's date apart, aware times only, and no
advice recorded on a withdrawn case."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ehc import case_evaluation
from ehc.case_evaluation import CommandRefused
from ehc.models import (
    AdviceOutcomeCommand,
    AdviceReceived,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    Withdrawal,
)
from ehc.statutory import Agency, NaiveDatetime, london_date
from tests.ehc.casefacts import advice, case, limit

D = date


def test_each_limit_shows_the_rule_version_in_force_on_its_own_due_date() -> None:
    # W10: Day 0 Mon 2 Mar 2020: 6 weeks 13 Apr (before SI 2020/471), 20 weeks 20 Jul (in it).
    view = case_evaluation.evaluate(case(D(2020, 3, 2)), D(2020, 3, 3))
    assert limit(view, "decision_to_assess").rule_version == "v2014"
    assert limit(view, "final_plan").rule_version == "v2020cv"


def test_the_familys_representation_deadline_is_never_the_councils_next_due_date() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    facts.decision_to_issue = DecisionToIssue(decision="issue", decided_on=D(2024, 11, 1))
    facts.draft_plan = DraftPlan(served_on=D(2024, 11, 4))
    view = case_evaluation.evaluate(facts, D(2024, 11, 5))
    reps = limit(view, "draft_representations")
    assert reps.family
    assert reps.due_on == D(2024, 11, 18)
    assert view.next_due_on == D(2025, 1, 20)


def test_a_time_without_a_zone_is_refused_not_read_as_host_local_time() -> None:
    with pytest.raises(NaiveDatetime):
        london_date(datetime(2024, 10, 27, 0, 30))


def test_advice_cannot_be_recorded_as_received_on_a_withdrawn_case() -> None:
    facts = case()
    facts.decision_to_assess = DecisionToAssess(decision="assess", decided_on=D(2024, 10, 1))
    request = advice(facts, Agency.HEALTH, D(2024, 10, 2))
    facts.withdrawal = Withdrawal(withdrawn_on=D(2024, 10, 20))
    with pytest.raises(CommandRefused) as info:
        case_evaluation.check_advice_received(
            facts, AdviceReceived(advice_id=request.id, received_on=D(2024, 10, 21)), D(2024, 11, 1)
        )
    assert info.value.code == "case_withdrawn"
    nil = AdviceOutcomeCommand(
        advice_id=request.id, outcome="not_known_to_service", on=D(2024, 10, 21)
    )
    with pytest.raises(CommandRefused) as info:
        case_evaluation.check_advice_outcome(facts, nil, D(2024, 11, 1))
    assert info.value.code == "case_withdrawn"
