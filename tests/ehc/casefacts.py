"""Builders of ``CaseFacts`` for the pure tests of ``ehc.case_evaluation``."""

from __future__ import annotations

from datetime import date

from ehc.case_evaluation import AdviceRequestFacts, CaseFacts
from ehc.models import AssessmentInput, CaseView, LimitView, RequestedBy
from ehc.statutory import Agency

W1_DAY0 = date(2024, 9, 2)


def case(day0: date = W1_DAY0) -> CaseFacts:
    return CaseFacts(
        case=AssessmentInput(
            case_ref="T-1", received_on=day0, requested_by=RequestedBy.PARENT, entered_by="1"
        )
    )


def advice(
    facts: CaseFacts, agency: Agency, requested_on: date, received_on: date | None = None
) -> AdviceRequestFacts:
    request = AdviceRequestFacts(
        id=f"T-1-adv{len(facts.advice_requests) + 1}",
        agency=agency,
        requested_on=requested_on,
        received_by_adviser_on=received_on or requested_on,
    )
    facts.advice_requests.append(request)
    return request


def limit(view: CaseView, name: str, advice_id: str | None = None) -> LimitView:
    for v in view.limits:
        if v.limit.value == name and v.advice_id == advice_id:
            return v
    raise AssertionError(f"no limit {name}")
