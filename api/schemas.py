"""Request bodies of the HTTP API (the contract is fixed: extend it, don't rename it)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ehc.models import CASE_REF_PATTERN, CaseView, ChildDetails, RequestedBy
from ehc.statutory import Agency, Anchor, ExceptionKind, Limit
from ehc.store.case_reads import Projection


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateAssessment(Body):
    case_ref: str = Field(
        pattern=CASE_REF_PATTERN,
        description="The council's own pseudonymous reference (no names or dates of birth)",
        examples=["EHC-2024-0001"],
    )
    received_on: date = Field(examples=["2024-09-02"])
    anchor: Anchor = Anchor.REQUEST
    requested_by: RequestedBy
    child: ChildDetails


class DecisionToAssessBody(Body):
    decision: Literal["assess", "not_assess"]
    decided_on: date
    notified_on: date | None = Field(
        default=None, description="When the notice was sent to the family; defaults to decided_on"
    )


class AdviceRequestBody(Body):
    agency: Agency
    requested_on: date
    received_on: date | None = None
    team: str | None = Field(default=None, max_length=80, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class AdviceReceivedBody(Body):
    received_on: date


class Institution(Body):
    name: str = Field(min_length=1, max_length=200)
    closed_on: date
    reopens_on: date
    advice_requested_on: date


class ExceptionBody(Body):
    limit: Limit
    kind: ExceptionKind
    reason: str = Field(min_length=1, max_length=2000)
    starts_on: date | None = None
    ends_on: date | None = None
    institution: Institution | None = None
    advice_id: str | None = None


class DecisionToIssueBody(Body):
    decision: Literal["issue", "not_issue"]
    decided_on: date
    notified_on: date | None = Field(
        default=None, description="When the notice was sent to the family; defaults to decided_on"
    )


class DraftPlanBody(Body):
    served_on: date


class FinalPlanBody(Body):
    issued_on: date


class WithdrawalBody(Body):
    withdrawn_on: date
    reason: str = Field(min_length=1, max_length=2000)


class CaseResponse(CaseView):
    child: ChildDetails | None = None
    projection: Projection | None = Field(
        default=None, description="Where a read came from and how fresh it is (reads only)"
    )


class QueuePage(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
