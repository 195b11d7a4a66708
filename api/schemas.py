"""Request bodies of the HTTP API (the contract is fixed: extend it, don't rename it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ehc.models import (
    CASE_REF_PATTERN,
    AdviceRequestView,
    CaseView,
    ChildDetails,
    EventView,
    ExceptionView,
    RequestedBy,
)
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


class CorrectionChanges(Body):
    """The dates and codes of one recorded event, as they should have been. Send only the
    fields to change; each event kind has its own (a decision: decision, decided_on...)."""

    received_on: date | None = Field(
        default=None, description="Day 0 (request_received) or the date advice was received"
    )
    requested_by: RequestedBy | None = None
    anchor: Anchor | None = None
    decision: Literal["assess", "not_assess", "issue", "not_issue"] | None = None
    decided_on: date | None = None
    notified_on: date | None = None
    requested_on: date | None = None
    on: date | None = Field(default=None, description="An advice outcome's date")
    kind: ExceptionKind | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    closed_on: date | None = None
    reopens_on: date | None = None
    advice_requested_on: date | None = None
    served_on: date | None = None
    issued_on: date | None = None
    withdrawn_on: date | None = None


class CorrectionBody(Body):
    event_id: int = Field(ge=1, description="The seq of the event in the case's trail")
    changes: CorrectionChanges
    reason: str = Field(min_length=1, max_length=2000)


class ReopenBody(Body):
    reason: str = Field(min_length=1, max_length=2000)


class AssigneeBody(Body):
    user_id: int | None = Field(description="The caseworker to assign; null for nobody")


class EventOut(EventView):
    entered_by_name: str | None = Field(default=None, description="Who entered it, by name")
    note: str | None = Field(default=None, description="The reason typed with it, if any")
    superseded_by: int | None = Field(
        default=None, description="The seq of the correction or reopening that replaced it"
    )


class ExceptionOut(ExceptionView):
    entered_by_name: str | None = None
    reason: str | None = None


class SubmissionOut(BaseModel):
    id: int
    submitted_on: date
    accepted: bool
    problems: list[str]
    sections: dict[str, Any]
    entered_by: str
    entered_by_name: str | None = None
    entered_at: datetime


class AdviceRequestDetail(AdviceRequestView):
    submissions: list[SubmissionOut] = Field(
        default_factory=list, description="Every version submitted, oldest first"
    )


class CaseResponse(CaseView):
    child: ChildDetails | None = None
    projection: Projection | None = Field(
        default=None, description="Where a read came from and how fresh it is (reads only)"
    )
    events: list[EventOut]  # type: ignore[assignment]
    exceptions: list[ExceptionOut]  # type: ignore[assignment]
    advice_requests: list[AdviceRequestDetail]  # type: ignore[assignment]
    warnings: list[str] = Field(default_factory=list)


class QueuePage(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
