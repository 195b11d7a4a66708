"""The forms of the case page: which step is lawful next, its fields, and reading a posted
form into the JSON API's own request body (so both doors validate alike).

Dates are GOV.UK date inputs (``{name}-day``, ``{name}-month``, ``{name}-year``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic import Field as ModelField
from starlette.datastructures import FormData

from api.schemas import (
    AdviceRequestBody,
    CorrectionBody,
    CreateAssessment,
    DecisionToAssessBody,
    DecisionToIssueBody,
    DraftPlanBody,
    ExceptionBody,
    FinalPlanBody,
    ReopenBody,
    WithdrawalBody,
)
from ehc.models import CLOSED_ADVICE, CaseView, ChildDetails, RequestedBy, Stage
from ehc.statutory import Agency, ExceptionKind, Limit

Choices = list[tuple[str, str]]


class AdviceReceivedForm(BaseModel):
    """The page's form for ``POST /advice-requests/{id}/received`` (the id in the body)."""

    model_config = ConfigDict(extra="forbid")
    advice_id: str
    received_on: date


# The dates of each kind of recorded event a caseworker may correct from the case page
# (rules.md s.8: a correction changes dates and codes, never text; the API corrects codes).
CORRECTABLE_DATES: dict[str, list[tuple[str, str]]] = {
    "request_received": [("received_on", "date the request was received (Day 0)")],
    "decision_to_assess": [
        ("decided_on", "date of the decision"),
        ("notified_on", "date the decision notice was sent"),
    ],
    "advice_requested": [("requested_on", "date the advice was requested")],
    "advice_received": [("received_on", "date the advice arrived")],
    "advice_returned_for_quality": [("on", "date the advice was returned")],
    "advice_not_known_to_service": [("on", "date of the answer")],
    "advice_withdrawn": [("on", "date the advice request was withdrawn")],
    "exception_recorded": [("starts_on", "date it started"), ("ends_on", "date it ended")],
    "decision_to_issue": [
        ("decided_on", "date of the decision"),
        ("notified_on", "date the decision notice was sent"),
    ],
    "draft_plan_served": [("served_on", "date the draft plan was served")],
    "final_plan_issued": [("issued_on", "date the final plan was issued")],
    "withdrawn": [("withdrawn_on", "date of the withdrawal")],
}
_DATE_NAMES = {name for dates in CORRECTABLE_DATES.values() for name, _ in dates}


class CorrectionForm(BaseModel):
    """The page's form for ``POST /assessments/{ref}/corrections``: one date of one entry.
    ``entry`` is ``"{seq}:{field}"``, e.g. ``"3:decided_on"``."""

    model_config = ConfigDict(extra="forbid")
    entry: str = ModelField(pattern=r"^[0-9]{1,9}:[a-z_]{1,40}$")
    on: date
    reason: str = ModelField(min_length=1, max_length=2000)

    @field_validator("entry")
    @classmethod
    def _a_date_of_an_entry(cls, value: str) -> str:
        if value.split(":")[1] not in _DATE_NAMES:
            raise ValueError("choose one of the entries listed")
        return value

    def body(self) -> CorrectionBody:
        seq, name = self.entry.split(":")
        return CorrectionBody.model_validate(
            {"event_id": int(seq), "changes": {name: self.on.isoformat()}, "reason": self.reason}
        )


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # "date", "radios", "select", "text", "textarea"
    choices: Choices = field(default_factory=list)
    optional: bool = False
    hint: str = ""

    @property
    def anchor(self) -> str:
        """The id an error summary links to (a date input's first box)."""
        return f"{self.name}-day" if self.kind == "date" else self.name


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    button: str
    body: type[BaseModel]
    fields: list[Field]
    done: str


def _choices(enum: type[Any]) -> Choices:
    return [(m.value, m.value.replace("_", " ").capitalize()) for m in enum]


AGENCIES = _choices(Agency)
LIMITS = [
    (lim.value, lim.value.replace("_", " ").capitalize())
    for lim in (Limit.DECISION_TO_ASSESS, Limit.ADVICE, Limit.NO_PLAN_NOTICE, Limit.FINAL_PLAN)
]
KINDS = _choices(ExceptionKind)

STEPS: dict[str, Step] = {
    s.slug: s
    for s in [
        Step(
            "decision-to-assess",
            "Record the decision whether to assess",
            "Record decision",
            DecisionToAssessBody,
            [
                Field(
                    "decision",
                    "What did the council decide?",
                    "radios",
                    [("assess", "Assess"), ("not_assess", "Not assess (refusal notice)")],
                ),
                Field("decided_on", "Date of the decision", "date", hint="For example, 10 10 2024"),
            ],
            "Decision recorded",
        ),
        Step(
            "advice-request",
            "Record an advice request",
            "Record advice request",
            AdviceRequestBody,
            [
                Field("agency", "Who was asked for advice?", "select", AGENCIES),
                Field("requested_on", "Date the advice was requested", "date"),
                Field(
                    "team",
                    "Team (from the team directory)",
                    "text",
                    optional=True,
                    hint="Leave blank for the agency's usual team",
                ),
            ],
            "Advice request recorded",
        ),
        Step(
            "decision-to-issue",
            "Record the decision whether to issue a plan",
            "Record decision",
            DecisionToIssueBody,
            [
                Field(
                    "decision",
                    "What did the council decide?",
                    "radios",
                    [("issue", "Issue a plan"), ("not_issue", "Not issue a plan (notice)")],
                ),
                Field("decided_on", "Date of the decision", "date"),
            ],
            "Decision recorded",
        ),
        Step(
            "draft-plan",
            "Record the draft plan",
            "Record draft plan",
            DraftPlanBody,
            [Field("served_on", "Date the draft plan was served", "date")],
            "Draft plan recorded",
        ),
        Step(
            "final-plan",
            "Record the final plan",
            "Record final plan",
            FinalPlanBody,
            [Field("issued_on", "Date the final plan was issued", "date")],
            "Final plan recorded",
        ),
        Step(
            "exception",
            "Record an exception to a time limit",
            "Record exception",
            ExceptionBody,
            [
                Field("limit", "Which time limit?", "select", LIMITS),
                Field("kind", "Which exception?", "select", KINDS),
                Field("advice_id", "Advice request (for an advice limit)", "select", optional=True),
                Field("starts_on", "Date it started", "date", optional=True),
                Field("ends_on", "Date it ended", "date", optional=True),
                Field("reason", "Reason", "textarea", hint="Kept in the case store only"),
                Field(
                    "institution.name",
                    "School or setting that closed",
                    "text",
                    optional=True,
                    hint="Only for a school or early years closure",
                ),
                Field("institution.closed_on", "Date it closed", "date", optional=True),
                Field("institution.reopens_on", "Date it reopens", "date", optional=True),
                Field(
                    "institution.advice_requested_on",
                    "Date its advice was requested",
                    "date",
                    optional=True,
                ),
            ],
            "Exception recorded",
        ),
        Step(
            "advice-received",
            "Record advice that arrived",
            "Record advice received",
            AdviceReceivedForm,
            [
                Field("advice_id", "Which advice request?", "select"),
                Field("received_on", "Date the advice arrived", "date"),
            ],
            "Advice recorded",
        ),
        Step(
            "withdrawal",
            "Record that the request was withdrawn",
            "Record withdrawal",
            WithdrawalBody,
            [
                Field("withdrawn_on", "Date of the withdrawal", "date"),
                Field("reason", "Reason", "textarea"),
            ],
            "Withdrawal recorded",
        ),
        Step(
            "correction",
            "Correct a date entered wrongly",
            "Correct the date",
            CorrectionForm,
            [
                Field("entry", "Which date is wrong?", "select", hint="From the audit trail"),
                Field("on", "The right date", "date"),
                Field(
                    "reason",
                    "Why it is being corrected",
                    "textarea",
                    hint="Shown beside the entry in the audit trail",
                ),
            ],
            "Date corrected",
        ),
        Step(
            "reopen",
            "Reopen the case (undo a mistaken closing)",
            "Reopen the case",
            ReopenBody,
            [
                Field(
                    "reason",
                    "Why the closing was a mistake",
                    "textarea",
                    hint="Shown beside the closing in the audit trail",
                ),
            ],
            "Case reopened",
        ),
    ]
}

NEXT: dict[Stage, list[str]] = {
    Stage.AWAITING_DECISION_TO_ASSESS: ["decision-to-assess"],
    Stage.GATHERING_ADVICE: ["advice-request", "decision-to-issue"],
    Stage.AWAITING_DECISION_TO_ISSUE: ["decision-to-issue", "advice-request"],
    Stage.DRAFTING: ["draft-plan"],
    Stage.DRAFT_ISSUED: ["final-plan"],
}
ALWAYS_OPEN = ["advice-received", "exception", "withdrawal", "correction"]
REOPENABLE = (Stage.WITHDRAWN, Stage.CLOSED_NOT_ASSESSED)


def next_steps(view: CaseView, *, in_grace: bool = True) -> list[Step]:
    """The lawful next steps for the case's stage. A closed case takes only a correction,
    and a reopening if it was withdrawn or not assessed and is ``in_grace`` (its grace
    period after closing has not ended)."""
    slugs = NEXT.get(view.stage)
    if slugs is None:
        reopen = ["reopen"] if view.stage in REOPENABLE and in_grace else []
        return [STEPS[s] for s in [*reopen, "correction"]]
    waiting = any(a.outcome not in CLOSED_ADVICE for a in view.advice_requests)
    others = [s for s in ALWAYS_OPEN if s != "advice-received" or waiting]
    return [STEPS[s] for s in slugs + others]


@dataclass
class Parsed:
    body: BaseModel | None
    errors: list[dict[str, str]]  # {"field": anchor id, "text": sentence}
    values: dict[str, str]


def _date(form: FormData, name: str) -> tuple[str, date | None, bool]:
    """(text as entered, the date, whether anything was entered)."""
    parts = [str(form.get(f"{name}-{p}", "")).strip() for p in ("day", "month", "year")]
    entered = any(parts)
    try:
        day, month, year = (int(p) for p in parts)
        return "-".join(parts), date(year, month, day), entered
    except ValueError:
        return "-".join(parts), None, entered


def form_values(form: FormData) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def parse(step_fields: list[Field], body: type[BaseModel], form: FormData) -> Parsed:
    """Read the form into ``body``; every problem becomes a GOV.UK error for its field."""
    data: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for f in step_fields:
        if f.kind == "date":
            _, value, entered = _date(form, f.name)
            if value is None:
                if entered:
                    errors.append({"field": f.anchor, "text": f"{f.label} must be a real date"})
                elif not f.optional:
                    errors.append({"field": f.anchor, "text": f"Enter the {f.label.lower()}"})
            else:
                _set(data, f.name, value)
            continue
        raw = str(form.get(f.name, "")).strip()
        if not raw:
            if not f.optional:
                verb = "Select" if f.kind in ("radios", "select") else "Enter"
                errors.append({"field": f.anchor, "text": f"{verb} {f.label.lower().rstrip('?')}"})
            continue
        _set(data, f.name, raw)
    values = form_values(form)
    if errors:
        return Parsed(None, errors, values)
    try:
        return Parsed(body.model_validate(data), [], values)
    except ValidationError as exc:
        by_name = {f.name: f for f in step_fields}
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            target = by_name.get(name) or by_name.get(name.split(".")[-1])
            label = target.label if target else name
            errors.append(
                {
                    "field": target.anchor if target else step_fields[0].anchor,
                    "text": _sentence(label, err),
                }
            )
        return Parsed(None, errors, values)


def _sentence(label: str, err: Any) -> str:
    """A pydantic error as a GOV.UK error message."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"Enter {label.lower().rstrip('?')}"
    if kind == "string_pattern_mismatch":
        return f"{label} must use only letters, numbers, hyphens and underscores"
    if kind == "string_too_long":
        return f"{label} must be {ctx.get('max_length')} characters or fewer"
    if kind in ("enum", "literal_error"):
        return f"Select {label.lower().rstrip('?')}"
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{label}: {message}"


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """``child.given_name`` -> data["child"]["given_name"]."""
    *parents, last = dotted.split(".")
    for p in parents:
        data = data.setdefault(p, {})
    data[last] = value


NEW_CASE_FIELDS = [
    Field(
        "case_ref",
        "Case reference",
        "text",
        hint="Your council's own reference, e.g. EHC-2024-0001",
    ),
    Field("received_on", "Date the request was received (Day 0)", "date"),
    Field("requested_by", "Who made the request?", "radios", _choices(RequestedBy)),
    Field("child.given_name", "Child's first name", "text"),
    Field("child.family_name", "Child's last name", "text"),
    Field("child.date_of_birth", "Child's date of birth", "date"),
    Field("child.postcode", "Postcode", "text", optional=True),
]


def parse_new_case(form: FormData) -> Parsed:
    return parse(NEW_CASE_FIELDS, CreateAssessment, form)


# The child's details a caseworker edits on ``/cases/{ref}/child`` (``PATCH .../child``);
# other SEN2 fields keep their values. An optional field left blank is removed.
CHILD_FIELDS = [
    Field("given_name", "Child's first name", "text"),
    Field("family_name", "Child's last name", "text"),
    Field("date_of_birth", "Child's date of birth", "date"),
    Field("postcode", "Postcode", "text", optional=True),
    Field("upn", "Unique pupil number (UPN)", "text", optional=True),
]


def parse_child(form: FormData) -> Parsed:
    return parse(CHILD_FIELDS, ChildDetails, form)


def child_changes(body: BaseModel, current: dict[str, Any]) -> dict[str, Any]:
    """The fields the form changes, as ``PATCH .../child`` takes them (None removes one)."""
    new = body.model_dump(mode="json")
    changes: dict[str, Any] = {}
    for f in CHILD_FIELDS:
        value = new.get(f.name)
        if value != current.get(f.name):
            changes[f.name] = value
    return changes
