"""Reading an existing caseload for import (`ehc import cases FILE.csv`): pure, no I/O.

One CSV row per case: its reference, Day 0, anchor, who asked, the child, and the events so
far, one column per milestone. Every row is checked here with the very validators the
workflow runs (``ehc.case_evaluation.check_*``), applied in the order a caseworker would enter
them, so a bad row is refused whole before anything is written, with a reason a person can
act on. The runner (``ehc_cli.bulk_import``) then starts each good case with its whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import ValidationError

from ehc import case_evaluation
from ehc.case_evaluation import AdviceRequestFacts, CaseFacts, CommandRefused
from ehc.models import (
    AdviceReceived,
    AdviceRequestCommand,
    AssessmentInput,
    ChildDetails,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    FinalPlan,
    ImportedCommand,
    ImportedEvent,
    ImportedUpdate,
    RequestedBy,
    Withdrawal,
)
from ehc.statutory import Agency, Anchor, NoRuleVersion, rule_version

COLUMNS = (
    "case_ref",
    "received_on",
    "anchor",
    "requested_by",
    "given_name",
    "family_name",
    "date_of_birth",
    "decision_to_assess",
    "decision_to_assess_on",
    "advice",
    "decision_to_issue",
    "decision_to_issue_on",
    "draft_plan_on",
    "final_plan_on",
    "withdrawn_on",
)
REQUIRED = ("case_ref", "received_on", "requested_by", "given_name", "family_name", "date_of_birth")
ENTERED_BY = "import"


class RowProblem(ValueError):
    """Why a row cannot be imported, in a sentence."""


@dataclass(frozen=True)
class Step:
    """One event to send to the case's workflow, as the API would (update name, command)."""

    update: ImportedUpdate
    command: ImportedCommand


@dataclass
class ImportRow:
    line: int
    case: AssessmentInput
    child: ChildDetails
    steps: list[Step] = field(default_factory=list)
    facts: CaseFacts | None = None  # the case after its events, as the workflow holds it

    def start(self, opened_at: datetime) -> AssessmentInput:
        """The workflow's input: the case and its whole history, applied at the start."""
        history = [ImportedEvent(update=s.update, command=s.command) for s in self.steps]
        return self.case.model_copy(update={"opened_at": opened_at, "history": history})


def _date(raw: Mapping[str, str], name: str) -> date | None:
    text = (raw.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowProblem(f"{name} '{text}' is not a date (use YYYY-MM-DD)") from None


def _text(raw: Mapping[str, str], name: str) -> str:
    return (raw.get(name) or "").strip()


def _advice(raw: Mapping[str, str]) -> list[tuple[Agency, date, date | None]]:
    """``agency requested_on [received_on]`` items separated by ``|``."""
    items = []
    for item in _text(raw, "advice").split("|"):
        parts = item.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise RowProblem(f"advice item '{item.strip()}' is not 'agency requested [received]'")
        try:
            agency = Agency(parts[0])
        except ValueError:
            raise RowProblem(f"advice agency '{parts[0]}' is not one of the agencies") from None
        dates = {"requested": parts[1], "received": parts[2] if len(parts) == 3 else ""}
        requested = _date(dates, "requested")
        assert requested is not None
        items.append((agency, requested, _date(dates, "received")))
    return items


def parse_row(raw: Mapping[str, str], line: int, today: date, **case: Any) -> ImportRow:
    """A checked row, or ``RowProblem``. ``case`` adds settings (at_risk_days, ...)."""
    missing = [name for name in REQUIRED if not _text(raw, name)]
    if missing:
        raise RowProblem(f"missing {', '.join(missing)}")
    received_on = _date(raw, "received_on")
    assert received_on is not None
    if received_on > today:
        raise RowProblem("received_on is in the future")
    try:
        rule_version(received_on)
    except NoRuleVersion as exc:
        raise RowProblem(str(exc)) from None
    try:
        assessment = AssessmentInput(
            case_ref=_text(raw, "case_ref"),
            received_on=received_on,
            anchor=Anchor(_text(raw, "anchor") or Anchor.REQUEST.value),
            requested_by=RequestedBy(_text(raw, "requested_by")),
            entered_by=ENTERED_BY,
            **case,
        )
        child = ChildDetails(
            given_name=_text(raw, "given_name"),
            family_name=_text(raw, "family_name"),
            date_of_birth=_date(raw, "date_of_birth"),
        )
    except (ValidationError, ValueError) as exc:
        raise RowProblem(_first_error(exc)) from None
    row = ImportRow(line=line, case=assessment, child=child)
    _check_history(row, raw, today)
    return row


def _entered(on: date) -> datetime:
    """When an imported event is taken to have been entered: noon UTC on its date."""
    return datetime.combine(on, time(12), UTC)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "row"
        return f"{where}: {error['msg']}"
    return str(exc)


def _check_history(row: ImportRow, raw: Mapping[str, str], today: date) -> None:
    """Apply the row's events to the case's facts exactly as the workflow's update handlers
    do, checking each with the workflow's own validator first."""
    facts = CaseFacts(case=row.case)
    row.facts = facts
    facts.add_event(
        "request_received",
        row.case.received_on,
        _entered(row.case.received_on),
        ENTERED_BY,
        anchor=row.case.anchor.value,
        requested_by=row.case.requested_by.value,
    )
    kinds = {
        "decision_to_assess": "decision_to_assess",
        "request_advice": "advice_requested",
        "advice_received": "advice_received",
        "decision_to_issue": "decision_to_issue",
        "draft_plan": "draft_plan_served",
        "final_plan": "final_plan_issued",
        "withdraw": "withdrawn",
    }

    def step(update: ImportedUpdate, check: Any, command: ImportedCommand) -> None:
        try:
            check(facts, command, today)
        except CommandRefused as exc:
            raise RowProblem(f"{update.replace('_', ' ')}: {exc.detail}") from None
        row.steps.append(Step(update, command))
        on = next(v for k, v in command if isinstance(v, date) and k != "notified_on")
        facts.add_event(kinds[update], on, _entered(on), ENTERED_BY)

    try:
        dta_on = _date(raw, "decision_to_assess_on")
        if dta_on:
            dta = DecisionToAssess(
                decision=_text(raw, "decision_to_assess") or "assess",
                decided_on=dta_on,
                entered_by=ENTERED_BY,
            )
            step("decision_to_assess", case_evaluation.check_decision_to_assess, dta)
            facts.decision_to_assess = dta
        received: list[AdviceReceived] = []
        for agency, requested_on, received_on in _advice(raw):
            ask = AdviceRequestCommand(
                agency=agency, requested_on=requested_on, entered_by=ENTERED_BY
            )
            step("request_advice", case_evaluation.check_advice_request, ask)
            advice_id = f"{row.case.case_ref}-adv{len(facts.advice_requests) + 1}"
            facts.advice_requests.append(
                AdviceRequestFacts(
                    id=advice_id,
                    agency=agency,
                    team=None,
                    requested_on=requested_on,
                    received_by_adviser_on=requested_on,
                    policy=ask.policy,
                    ladder_rungs=0,
                )
            )
            if received_on:
                received.append(
                    AdviceReceived(
                        advice_id=advice_id, received_on=received_on, entered_by=ENTERED_BY
                    )
                )
        for got in received:
            step("advice_received", case_evaluation.check_advice_received, got)
            case_evaluation.apply_advice_received(facts.advice(got.advice_id), got.received_on)
        dti_on = _date(raw, "decision_to_issue_on")
        if dti_on:
            dti = DecisionToIssue(
                decision=_text(raw, "decision_to_issue") or "issue",
                decided_on=dti_on,
                entered_by=ENTERED_BY,
            )
            step("decision_to_issue", case_evaluation.check_decision_to_issue, dti)
            facts.decision_to_issue = dti
        draft_on = _date(raw, "draft_plan_on")
        if draft_on:
            draft = DraftPlan(served_on=draft_on, entered_by=ENTERED_BY)
            step("draft_plan", case_evaluation.check_draft_plan, draft)
            facts.draft_plan = draft
        final_on = _date(raw, "final_plan_on")
        if final_on:
            final = FinalPlan(issued_on=final_on, entered_by=ENTERED_BY)
            step("final_plan", case_evaluation.check_final_plan, final)
            facts.final_plan = final
        withdrawn_on = _date(raw, "withdrawn_on")
        if withdrawn_on:
            withdrawal = Withdrawal(withdrawn_on=withdrawn_on, entered_by=ENTERED_BY)
            step("withdraw", case_evaluation.check_withdrawal, withdrawal)
            facts.withdrawal = withdrawal
    except ValidationError as exc:
        raise RowProblem(_first_error(exc)) from None
