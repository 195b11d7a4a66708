"""Pydantic models shared by the API, workflows, activities and store.

Nothing here carries a child's personal data except ``ChildDetails``, which only the API
and the store ever see: workflow inputs, commands and the case view hold a pseudonymous
case reference, dates and codes.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ehc.chasing import ChasingPolicy
from ehc.statutory import Agency, Anchor, ExceptionKind, Limit, LimitStatus

CASE_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

# --- plausibility: what a person could really have meant -------------------------------

# A date sent as anything but YYYY-MM-DD (a date-time, a number of seconds) is refused.
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST_EVENT = date(2000, 1, 1)  # earlier than any case (the 2014 Regulations) can be
LATEST_DATE = date(2099, 12, 31)
EARLIEST_BIRTH = date(1985, 1, 1)
# A run of more than 4 letters looks like a name; a date looks like a date of birth.
_LETTER_RUN = re.compile(r"[A-Za-z]{5,}")
_DATE_IN_REF = re.compile(
    r"(?<!\d)(?:(?:19|20)\d{2}[-_]?(?:0[1-9]|1[0-2])[-_]?(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[1-9]|[12]\d|3[01])[-_]?(?:0[1-9]|1[0-2])[-_]?(?:19|20)\d{2}"
    r"|\d{1,2}[-_]\d{1,2}[-_](?:\d{2}|\d{4}))(?!\d)"
)


def case_ref_problem(case_ref: str) -> str | None:
    """Why ``case_ref`` could carry personal data into Temporal, or None if it cannot.

    A case reference is pseudonymous: workflow ids and the Temporal UI show it. One with a
    run of more than four letters (a name) or a date (a date of birth) is refused."""
    if _LETTER_RUN.search(case_ref):
        return (
            "case_ref must not contain more than 4 letters in a row (it could be a name); "
            "use the council's reference, like EHC-2024-0001."
        )
    if _DATE_IN_REF.search(case_ref):
        return (
            "case_ref must not contain a date (it could be a date of birth); "
            "use the council's reference, like EHC-2024-0001."
        )
    return None


def check_iso_date(value: Any, name: str) -> Any:
    """Refuse a date-time or a number where a date is expected (before parsing)."""
    if isinstance(value, str) and not ISO_DATE.match(value.strip()):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, like 2024-09-02")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, like 2024-09-02")
    return value


def check_date_bounds(value: date | None, name: str, earliest: date = EARLIEST_EVENT) -> None:
    if value is not None and not earliest <= value <= LATEST_DATE:
        raise ValueError(
            f"{name} must be between {earliest.isoformat()} and {LATEST_DATE.isoformat()}"
        )


def name_problem(value: str, name: str) -> str | None:
    """Why ``value`` cannot be a person's name: blank, or holding invisible or control
    characters (zero-width spaces, NUL, terminal escapes)."""
    if not value.strip():
        return f"{name} must contain letters, not only spaces"
    for char in value:
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return (
                f"{name} contains an invisible or control character; "
                "use letters, spaces, hyphens and apostrophes"
            )
    return None


class Stage(StrEnum):
    """Stages of an assessment (rules.md section 6)."""

    AWAITING_DECISION_TO_ASSESS = "awaiting_decision_to_assess"
    GATHERING_ADVICE = "gathering_advice"
    AWAITING_DECISION_TO_ISSUE = "awaiting_decision_to_issue"
    DRAFTING = "drafting"
    DRAFT_ISSUED = "draft_issued"
    PLAN_ISSUED = "plan_issued"
    CLOSED_NOT_ASSESSED = "closed_not_assessed"
    CLOSED_NO_PLAN = "closed_no_plan"
    WITHDRAWN = "withdrawn"


TERMINAL_STAGES = frozenset(
    {Stage.PLAN_ISSUED, Stage.CLOSED_NOT_ASSESSED, Stage.CLOSED_NO_PLAN, Stage.WITHDRAWN}
)


class EventKind(StrEnum):
    """What one line of a case's audit trail records (``EventView.kind``, ``events.kind``).

    The values are the strings stored and kept in Temporal histories: never change one."""

    REQUEST_RECEIVED = "request_received"
    DECISION_TO_ASSESS = "decision_to_assess"
    ADVICE_REQUESTED = "advice_requested"
    ADVICE_RECEIVED = "advice_received"
    ADVICE_RETURNED_FOR_QUALITY = "advice_returned_for_quality"
    ADVICE_NOT_KNOWN_TO_SERVICE = "advice_not_known_to_service"
    ADVICE_WITHDRAWN = "advice_withdrawn"
    EXCEPTION_RECORDED = "exception_recorded"
    DECISION_TO_ISSUE = "decision_to_issue"
    DRAFT_PLAN_SERVED = "draft_plan_served"
    FINAL_PLAN_ISSUED = "final_plan_issued"
    WITHDRAWN = "withdrawn"
    CHILD_DETAILS_CHANGED = "child_details_changed"
    CORRECTED = "corrected"
    REOPENED = "reopened"
    # The system's own: a limit missed (breached, or excused by an exception) or put right.
    LIMIT_BREACHED = "limit_breached"
    LIMIT_EXCEPTION = "limit_exception"
    BREACH_CORRECTED = "breach_corrected"


class Role(StrEnum):
    """Who a user is: what they may read and record."""

    CASEWORKER = "caseworker"
    MANAGER = "manager"
    TEAM = "team"
    ADMIN = "admin"


class AdviceOutcome(StrEnum):
    """Where an advice request stands (rules.md section 5)."""

    OUTSTANDING = "outstanding"
    RECEIVED = "received"
    RETURNED_FOR_QUALITY = "returned_for_quality"
    NOT_KNOWN_TO_SERVICE = "not_known_to_service"
    WITHDRAWN = "withdrawn"
    CASE_MOVED_ON = "case_moved_on"


CLOSED_ADVICE = frozenset(
    {
        AdviceOutcome.RECEIVED,
        AdviceOutcome.NOT_KNOWN_TO_SERVICE,
        AdviceOutcome.WITHDRAWN,
        AdviceOutcome.CASE_MOVED_ON,
    }
)


class RequestedBy(StrEnum):
    PARENT = "parent"
    YOUNG_PERSON = "young_person"
    SCHOOL = "school"
    OTHER = "other"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- workflow input and commands (no personal data) -----------------------------------


class AssessmentInput(Frozen):
    """The one input of the assessment workflow."""

    case_ref: str = Field(pattern=CASE_REF_PATTERN)
    received_on: date
    anchor: Anchor = Anchor.REQUEST
    requested_by: RequestedBy
    entered_by: str
    at_risk_days: int = 14
    close_grace_days: int = 28
    opened_at: AwareDatetime | None = Field(
        default=None,
        description="When the API recorded the request: the opening events carry it, so the "
        "API's answer and the workflow's audit trail agree to the microsecond",
    )
    history: list[ImportedEvent] = Field(
        default_factory=list,
        description="An imported case's events so far (``ehc import cases``), applied at the "
        "start in one go, each checked as its own update would be; dates and codes only",
    )


class DecisionToAssess(Frozen):
    decision: Literal["assess", "not_assess"]
    decided_on: date
    notified_on: date | None = Field(
        default=None,
        description="When the notice went to the family (regs 4(1), 5(1)); defaults to decided_on",
    )
    entered_by: str = ""


class AdviceRequestCommand(Frozen):
    agency: Agency
    requested_on: date
    received_on: date | None = Field(
        default=None, description="When the adviser received the request; defaults to requested_on"
    )
    team: str | None = Field(default=None, max_length=80)
    entered_by: str = ""
    policy: ChasingPolicy = ChasingPolicy()
    ladder_rungs: int = 0


class AdviceReceived(Frozen):
    advice_id: str
    received_on: date
    entered_by: str = ""


class AdviceOutcomeCommand(Frozen):
    """Returned for quality, a nil return ("not known to the service"), or withdrawn."""

    advice_id: str
    outcome: Literal["returned_for_quality", "not_known_to_service", "withdrawn"]
    on: date
    entered_by: str = ""


class ClosureDates(Frozen):
    closed_on: date
    reopens_on: date
    advice_requested_on: date


class ExceptionCommand(Frozen):
    """An exception claim. Its free-text reason stays in the store, never in Temporal."""

    limit: Limit
    kind: ExceptionKind
    starts_on: date | None = None
    ends_on: date | None = None
    closure: ClosureDates | None = None
    advice_id: str | None = None
    entered_by: str = ""


class DecisionToIssue(Frozen):
    decision: Literal["issue", "not_issue"]
    decided_on: date
    notified_on: date | None = Field(
        default=None,
        description="When the notice went to the family (reg 10(1)); defaults to decided_on",
    )
    entered_by: str = ""


class DraftPlan(Frozen):
    served_on: date
    entered_by: str = ""


class FinalPlan(Frozen):
    issued_on: date
    entered_by: str = ""


class Withdrawal(Frozen):
    withdrawn_on: date
    entered_by: str = ""


ImportedCommand = (
    DecisionToAssess
    | AdviceRequestCommand
    | AdviceReceived
    | DecisionToIssue
    | DraftPlan
    | FinalPlan
    | Withdrawal
)
IMPORTED_COMMANDS: dict[str, type[BaseModel]] = {
    "decision_to_assess": DecisionToAssess,
    "request_advice": AdviceRequestCommand,
    "advice_received": AdviceReceived,
    "decision_to_issue": DecisionToIssue,
    "draft_plan": DraftPlan,
    "final_plan": FinalPlan,
    "withdraw": Withdrawal,
}


ImportedUpdate = Literal[
    "decision_to_assess",
    "request_advice",
    "advice_received",
    "decision_to_issue",
    "draft_plan",
    "final_plan",
    "withdraw",
]


class ImportedEvent(Frozen):
    """One event of an imported case's history: the update of that name and its command."""

    update: ImportedUpdate
    command: ImportedCommand

    @model_validator(mode="after")
    def _command_fits_update(self) -> ImportedEvent:
        if not isinstance(self.command, IMPORTED_COMMANDS[self.update]):
            raise ValueError(f"the command is not a {self.update} command")
        return self


AssessmentInput.model_rebuild()


# Fields of a recorded event a correction may change: dates and codes only, never text.
CORRECTABLE_FIELDS = (
    "received_on",
    "requested_by",
    "anchor",
    "decision",
    "decided_on",
    "notified_on",
    "requested_on",
    "on",
    "kind",
    "starts_on",
    "ends_on",
    "closed_on",
    "reopens_on",
    "advice_requested_on",
    "served_on",
    "issued_on",
    "withdrawn_on",
)


class Correction(Frozen):
    """Correct the dates or codes of one recorded event (``event_id`` is its ``seq``).
    The reason is free text: it stays in the store, never here."""

    event_id: int = Field(ge=1)
    changes: dict[str, str] = Field(min_length=1)
    entered_by: str = ""


class Reopen(Frozen):
    """Undo a withdrawal or a refusal to assess entered by mistake (reason in the store)."""

    entered_by: str = ""


class ChildChanged(Frozen):
    """The child's details changed in the store: which fields (names only), by whom."""

    fields: list[str]
    entered_by: str = ""


# --- the case view --------------------------------------------------------------------


class LimitView(BaseModel):
    limit: Limit
    regulation: str
    statutory: bool = Field(description="False for guidance (CoP) limits: never a breach")
    rule_version: str | None = Field(
        default=None, description="The rule version in force on this limit's due date"
    )
    family: bool = Field(
        default=False, description="The family's period (reg 13(1)), not a council deadline"
    )
    due_on: date
    met_on: date | None = None
    status: LimitStatus
    advice_id: str | None = None
    exceptions: list[str] = Field(default_factory=list)
    blocked_by: str | None = None
    at_risk: bool = False


class AdviceRequestView(BaseModel):
    id: str
    agency: Agency
    team: str | None
    regulation: str
    statutory: bool = True
    requested_on: date
    received_by_adviser_on: date
    due_on: date
    advice_received_on: date | None = None
    status: LimitStatus
    outcome: AdviceOutcome = AdviceOutcome.OUTSTANDING


class ExceptionView(BaseModel):
    id: str
    limit: Limit
    kind: ExceptionKind
    advice_id: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    closure: ClosureDates | None = None
    entered_by: str
    entered_at: AwareDatetime


class EventView(BaseModel):
    """One line of the audit trail: what happened, on which date, who entered it, when."""

    seq: int
    kind: str
    occurred_on: date
    entered_at: AwareDatetime
    entered_by: str
    detail: dict[str, str] = Field(default_factory=dict)


class CaseView(BaseModel):
    case_ref: str
    stage: Stage
    received_on: date
    anchor: Anchor
    requested_by: RequestedBy
    rule_version: str
    as_of: date
    limits: list[LimitView]
    advice_requests: list[AdviceRequestView]
    exceptions: list[ExceptionView]
    flags: list[str]
    events: list[EventView]
    next_due_on: date | None = None
    breached: bool = False


# --- personal data: API and store only, never Temporal --------------------------------


# The fields ``child`` may hold besides the names and date of birth: SEN2's (see
# ehc/reports/sen2_fields.py) and the NHS number.
CHILD_EXTRA_FIELDS = (
    "sex",
    "ethnicity",
    "postcode",
    "upn",
    "uln",
    "upn_unknown_reason",
    "rya",
    "setting",
    "setting_urn",
    "setting_ukprn",
    "sen_unit",
    "resourced_provision",
    "sen_type",
    "nhs_number",
)
CHILD_VALUE_MAX = 100


class ChildDetails(BaseModel):
    """The child's personal data. Kept in the case store; never sent to Temporal.

    New details are checked for plausibility (documented fields only, real names, a date
    of birth that could be a child's); details read back from the store are not
    re-checked (``context={"stored": True}``), so older rows always read."""

    model_config = ConfigDict(extra="allow")

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date

    @model_validator(mode="before")
    @classmethod
    def _documented_fields_only(cls, data: Any, info: ValidationInfo) -> Any:
        if _stored(info) or not isinstance(data, dict):
            return data
        known = {"given_name", "family_name", "date_of_birth", *CHILD_EXTRA_FIELDS}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(
                f"child has no field {', '.join(unknown)[:80]}; it accepts given_name, "
                f"family_name, date_of_birth, {', '.join(CHILD_EXTRA_FIELDS)}"
            )
        for key in CHILD_EXTRA_FIELDS:
            value = data.get(key)
            if value is None or isinstance(value, bool):
                continue
            if not isinstance(value, str) or len(value) > CHILD_VALUE_MAX:
                raise ValueError(
                    f"child.{key} must be text of at most {CHILD_VALUE_MAX} characters, "
                    "true/false or null"
                )
            problem = name_problem(value, f"child.{key}")
            if problem:
                raise ValueError(problem)
        return data

    @field_validator("given_name", "family_name")
    @classmethod
    def _real_name(cls, value: str, info: ValidationInfo) -> str:
        problem = None if _stored(info) else name_problem(value, f"child.{info.field_name}")
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _date_only(cls, value: Any, info: ValidationInfo) -> Any:
        return value if _stored(info) else check_iso_date(value, "child.date_of_birth")

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, value: date, info: ValidationInfo) -> date:
        if not _stored(info):
            check_date_bounds(value, "child.date_of_birth", EARLIEST_BIRTH)
        return value


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


class QueueItem(BaseModel):
    """One row of a caseworker's queue: a case and its soonest pending limit."""

    case_ref: str
    stage: Stage
    received_on: date
    limit: Limit | None
    due_on: date | None
    status: LimitStatus | None
    at_risk: bool
    breached: bool
    child_name: str | None = None
    assignee_id: int | None = None
    assignee: str | None = Field(default=None, description="The assigned caseworker's name")
    advice_id: str | None = None
    days_overdue: int | None = Field(default=None, description="Days past the due date")
    days_left: int | None = Field(default=None, description="Days until the due date")


class User(BaseModel):
    id: int
    name: str
    role: Role
    team: str | None = None


# --- advice chasing (no personal data: references, codes and dates) --------------------


class AdviceInput(Frozen):
    """The one input of an advice request's workflow."""

    advice_id: str
    case_ref: str
    agency: Agency
    team: str | None
    requested_on: date
    due_on: date
    policy: ChasingPolicy = ChasingPolicy()
    ladder_rungs: int = 0
    cycle: int = Field(default=0, description="0, then one more after each return for quality")
    resumed: bool = Field(default=False, description="chasing again after the case reopened")


class AdviceState(Frozen):
    """What the assessment tells an advice request's workflow: its outcome changed."""

    outcome: AdviceOutcome | Literal["case_closed"]
    on: date


class LedgerEntry(Frozen):
    """One notice's row in the ledger (``notifications``), as the notification activities
    read it: whether it went, its postbox, and what a digest needs to list it."""

    key: str
    advice_id: str
    agency: str
    team: str
    kind: str
    rung: int
    status: str
    attempts: int
    batch: str | None
    case_ref: str | None
    due_on: date | None


class NoticeInput(Frozen):
    """One notice to send; ``key`` makes it go out once whatever is retried."""

    key: str
    advice_id: str
    case_ref: str
    agency: Agency
    team: str | None
    kind: str
    seq: int
    rung: int
    on: date
    due_on: date


class UserRecord(BaseModel):
    """A user as the store hands it to routes: never the token or password hash."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    name: str
    role: str
    team: str | None
    email: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class AdviceRequestRecord(BaseModel):
    """An advice request as the store hands it to routes and pages."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    case_ref: str
    agency: str
    team: str | None
    regulation: str
    requested_on: date
    received_by_adviser_on: date
    due_on: date
    advice_received_on: date | None
    status: str
    outcome: str
