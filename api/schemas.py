"""Request bodies of the HTTP API (the contract is fixed: extend it, don't rename it)."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ehc.models import (
    CASE_REF_PATTERN,
    AdviceRequestView,
    CaseView,
    ChildDetails,
    EventView,
    ExceptionView,
    RequestedBy,
    case_ref_problem,
    check_date_bounds,
    check_iso_date,
)
from ehc.statutory import Agency, Anchor, ExceptionKind, Limit
from ehc.store.case_reads import Projection


def _is_date_field(annotation: Any) -> bool:
    if annotation is date:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return date in typing.get_args(annotation)
    return False


class Body(BaseModel):
    """A request body: no unknown fields, and every date a real YYYY-MM-DD date between
    2014 and 2099 (a date-time, a number or the year 9999 is refused, not guessed at)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _dates_as_dates(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or "date"
        if _is_date_field(cls.model_fields[name].annotation):
            return check_iso_date(value, name)
        return value

    @field_validator("*")
    @classmethod
    def _dates_in_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, date):
            check_date_bounds(value, info.field_name or "date")
        return value


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

    @field_validator("case_ref")
    @classmethod
    def _pseudonymous(cls, value: str) -> str:
        problem = case_ref_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def child_age_problem(self) -> str | None:
        """EHC needs assessments are for children and young people up to 25 (s.83 Children
        and Families Act 2014): born on or before Day 0, and at most 26 years before it.
        Checked after Day 0 itself (a Day 0 in the future is the first thing to say)."""
        born = self.child.date_of_birth
        if born > self.received_on or born < self.received_on - timedelta(days=26 * 366):
            return (
                "child.date_of_birth must be on or before received_on and no more than "
                "26 years before it (EHC plans are for children and young people up to 25)."
            )
        return None


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
