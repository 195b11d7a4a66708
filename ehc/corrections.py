"""Corrections and reopening: what a case's facts become when an entry is amended.

Pure code (no I/O, no clock) used by the assessment workflow's ``correct`` and ``reopen``
updates. A correction changes the dates or codes of one recorded event; the corrected facts
must then be a history the original commands would have accepted, so every fact is checked
again in the order of the process with the same ``check_*`` functions (and the same
sentences) that checked it when it was entered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from ehc import case_evaluation, statutory
from ehc.case_evaluation import AdviceRequestFacts, CaseFacts, CommandRefused
from ehc.models import (
    TERMINAL_STAGES,
    AdviceOutcome,
    AdviceOutcomeCommand,
    AdviceReceived,
    AdviceRequestCommand,
    ClosureDates,
    Correction,
    EventKind,
    EventView,
    ExceptionCommand,
    ExceptionView,
    Stage,
)


class EventLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def occurred_on(self) -> date: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


CORRECTED = EventKind.CORRECTED
REOPENED = EventKind.REOPENED
# The kinds of event a caseworker entered, and the fact each one recorded.
_COMMAND_FACTS: dict[str, str] = {
    EventKind.DECISION_TO_ASSESS: "decision_to_assess",
    EventKind.DECISION_TO_ISSUE: "decision_to_issue",
    EventKind.DRAFT_PLAN_SERVED: "draft_plan",
    EventKind.FINAL_PLAN_ISSUED: "final_plan",
    EventKind.WITHDRAWN: "withdrawal",
}
_ADVICE_OUTCOMES: dict[str, AdviceOutcome] = {
    EventKind.ADVICE_RETURNED_FOR_QUALITY: AdviceOutcome.RETURNED_FOR_QUALITY,
    EventKind.ADVICE_NOT_KNOWN_TO_SERVICE: AdviceOutcome.NOT_KNOWN_TO_SERVICE,
    EventKind.ADVICE_WITHDRAWN: AdviceOutcome.WITHDRAWN,
}


def _not_correctable(what: str) -> CommandRefused:
    return CommandRefused("not_correctable", what)


def _invalid(exc: ValidationError, kind: str) -> CommandRefused:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )
    return CommandRefused(
        "invalid_correction", f"That correction does not fit a {kind} event ({problems})."
    )


def _merge(model: BaseModel, changes: Mapping[str, Any], kind: str) -> Any:
    """``model`` with ``changes`` applied, validated as the original command was."""
    try:
        return type(model).model_validate({**model.model_dump(), **changes})
    except ValidationError as exc:
        raise _invalid(exc, kind) from None


def _only(changes: Mapping[str, str], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise CommandRefused(
            "invalid_correction",
            f"A {kind} event has no {', '.join(unknown)} to correct; "
            f"it records {', '.join(sorted(allowed))}.",
        )


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandRefused(
            "invalid_correction", f"{name} must be a date (YYYY-MM-DD), not '{value}'."
        ) from None


def target(facts: CaseFacts, event_id: int) -> EventView:
    """The event a correction of ``event_id`` amends (a correction's own original)."""
    event = next((e for e in facts.events if e.seq == event_id), None)
    if event is None:
        raise CommandRefused("not_found", f"There is no event {event_id} on this case.", 404)
    if event.kind == CORRECTED:
        return target(facts, int(event.detail["corrects"]))
    return event


def _old(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, BaseModel):
        return ""
    return str(getattr(value, "value", value))


def corrected(
    facts: CaseFacts, cmd: Correction, *, in_place: bool = False
) -> tuple[CaseFacts, EventView, date, dict[str, str]]:
    """The facts as they would be with ``cmd`` applied, the event it amends, the corrected
    date of that event and the audit detail (each changed field, new and old value).
    ``in_place`` changes ``facts`` itself (the workflow's state, once the check passed)."""
    event = target(facts, cmd.event_id)
    new = facts if in_place else facts.model_copy(deep=True)
    changes = dict(cmd.changes)
    detail: dict[str, str] = {"corrects": str(event.seq), "event_kind": event.kind}
    kind = event.kind
    old: dict[str, object]
    if kind == EventKind.REQUEST_RECEIVED:
        _only(changes, {"received_on", "requested_by", "anchor"}, kind)
        old = {k: getattr(new.case, k) for k in changes}
        new.case = _merge(new.case, changes, kind)
        on = new.case.received_on
        if on != facts.case.received_on:
            try:
                statutory.rule_version(on)
            except statutory.NoRuleVersion as exc:
                raise CommandRefused("before_regulations", str(exc)) from None
    elif kind in _COMMAND_FACTS:
        name = _COMMAND_FACTS[kind]
        command = getattr(new, name)
        if command is None:
            raise _not_correctable(f"The {kind.replace('_', ' ')} was undone; nothing to correct.")
        _only(changes, set(type(command).model_fields) - {"entered_by"}, kind)
        old = {k: getattr(command, k) for k in changes}
        command = _merge(command, changes, kind)
        setattr(new, name, command)
        on = next(v for k, v in command.model_dump().items() if isinstance(v, date))
    elif kind == EventKind.ADVICE_REQUESTED:
        request = new.advice(event.detail["advice_id"])
        _only(changes, {"requested_on", "received_on"}, kind)
        old = {
            "requested_on": request.requested_on,
            "received_on": request.received_by_adviser_on,
        }
        old = {k: v for k, v in old.items() if k in changes}
        moved_with = request.received_by_adviser_on == request.requested_on
        if "requested_on" in changes:
            request.requested_on = _parse_date(changes["requested_on"], "requested_on")
            if moved_with and "received_on" not in changes:
                request.received_by_adviser_on = request.requested_on
        if "received_on" in changes:
            request.received_by_adviser_on = _parse_date(changes["received_on"], "received_on")
        request.rechase = request.chasing_started and request.open
        on = request.requested_on
    elif kind == EventKind.ADVICE_RECEIVED:
        request = new.advice(event.detail["advice_id"])
        _only(changes, {"received_on"}, kind)
        if request.outcome is not AdviceOutcome.RECEIVED:
            raise _not_correctable(
                f"Advice {request.id} is now {request.outcome.value.replace('_', ' ')}; "
                "only its latest receipt can be corrected."
            )
        old = {"received_on": request.advice_received_on}
        on = _parse_date(changes["received_on"], "received_on")
        request.advice_received_on = on
        request.outcome_on = on
    elif kind in _ADVICE_OUTCOMES:
        request = new.advice(event.detail["advice_id"])
        _only(changes, {"on"}, kind)
        if request.outcome is not _ADVICE_OUTCOMES[kind]:
            raise _not_correctable(
                f"Advice {request.id} is now {request.outcome.value.replace('_', ' ')}; "
                "only its latest outcome can be corrected."
            )
        old = {"on": request.outcome_on}
        on = _parse_date(changes["on"], "on")
        request.outcome_on = on
        if request.outcome is AdviceOutcome.NOT_KNOWN_TO_SERVICE:
            request.advice_received_on = on
    elif kind == EventKind.EXCEPTION_RECORDED:
        index = next(
            i for i, e in enumerate(new.exceptions) if e.id == event.detail["exception_id"]
        )
        exception = new.exceptions[index]
        closure_fields = {"closed_on", "reopens_on", "advice_requested_on"}
        _only(changes, {"kind", "starts_on", "ends_on"} | closure_fields, kind)
        old = {}
        for k in changes:
            source = exception.closure if k in closure_fields else exception
            old[k] = getattr(source, k, None)
        closure = exception.closure.model_dump() if exception.closure else None
        closure_changes = {k: v for k, v in changes.items() if k in closure_fields}
        if closure_changes:
            if closure is None:
                raise CommandRefused(
                    "invalid_correction", "This exception names no closed institution."
                )
            closure = _merge(ClosureDates(**closure), closure_changes, kind).model_dump()
        plain = {k: v for k, v in changes.items() if k not in closure_fields}
        updated = _merge(exception, {**plain, "closure": closure}, kind)
        new.exceptions[index] = updated
        on = updated.starts_on or event.occurred_on
    else:
        raise _not_correctable(
            f"A {kind.replace('_', ' ')} event is the system's own record; correct the "
            "event it follows from instead."
        )
    for name, value in changes.items():
        detail[name] = value
        detail[f"{name}_was"] = _old(old.get(name))
    return new, event, on, detail


def check_correction(facts: CaseFacts, cmd: Correction, today: date) -> None:
    """Refuse a correction that would make the case's facts impossible."""
    new, _, _, _ = corrected(facts, cmd)
    check_history(new, today)


def check_history(facts: CaseFacts, today: date) -> None:
    """Check every fact again, in the order of the process, as its command was checked."""
    if facts.day0 > today:
        raise CommandRefused(
            "date_in_future",
            f"The request date ({facts.day0.isoformat()}) is in the future; record events "
            "once they have happened.",
        )
    built = CaseFacts(case=facts.case)
    if facts.decision_to_assess is not None:
        case_evaluation.check_decision_to_assess(built, facts.decision_to_assess, today)
        built.decision_to_assess = facts.decision_to_assess
    for request in facts.advice_requests:
        case_evaluation.check_advice_request(
            built,
            AdviceRequestCommand(
                agency=request.agency,
                requested_on=request.requested_on,
                received_on=request.received_by_adviser_on,
            ),
            today,
        )
        copy = AdviceRequestFacts(
            id=request.id,
            agency=request.agency,
            requested_on=request.requested_on,
            received_by_adviser_on=request.received_by_adviser_on,
        )
        built.advice_requests.append(copy)
        if request.outcome is AdviceOutcome.RECEIVED and request.advice_received_on is not None:
            case_evaluation.check_advice_received(
                built,
                AdviceReceived(advice_id=request.id, received_on=request.advice_received_on),
                today,
            )
            case_evaluation.apply_advice_received(copy, request.advice_received_on)
        elif request.outcome in (AdviceOutcome.NOT_KNOWN_TO_SERVICE, AdviceOutcome.WITHDRAWN):
            assert request.outcome_on is not None
            outcome = AdviceOutcomeCommand.model_validate(
                {
                    "advice_id": request.id,
                    "outcome": request.outcome.value,
                    "on": request.outcome_on,
                }
            )
            case_evaluation.check_advice_outcome(built, outcome, today)
            case_evaluation.apply_advice_outcome(copy, outcome)
    for exception in facts.exceptions:
        case_evaluation.check_exception(built, _exception_command(exception), today)
        built.exceptions.append(exception)
    for name, check in (
        ("decision_to_issue", case_evaluation.check_decision_to_issue),
        ("draft_plan", case_evaluation.check_draft_plan),
        ("final_plan", case_evaluation.check_final_plan),
        ("withdrawal", case_evaluation.check_withdrawal),
    ):
        command = getattr(facts, name)
        if command is not None:
            check(built, command, today)
            setattr(built, name, command)


def _exception_command(exception: ExceptionView) -> ExceptionCommand:
    return ExceptionCommand(
        limit=exception.limit,
        kind=exception.kind,
        starts_on=exception.starts_on,
        ends_on=exception.ends_on,
        closure=exception.closure,
        advice_id=exception.advice_id,
    )


# --- reopening ------------------------------------------------------------------------


def _latest(facts: CaseFacts, kind: str) -> EventView | None:
    """The last event of ``kind`` (a correction of it keeps the original as its record)."""
    return next((e for e in reversed(facts.events) if e.kind == kind), None)


def check_reopen(facts: CaseFacts, today: date) -> None:
    """Only a withdrawal or a decision not to assess can be undone, and only on a case
    still inside its grace period (the workflow refuses once it has finished)."""
    current = case_evaluation.stage(facts)
    if current not in (Stage.WITHDRAWN, Stage.CLOSED_NOT_ASSESSED):
        raise CommandRefused(
            "not_reopenable",
            "Only a withdrawal or a decision not to assess entered by mistake can be undone; "
            f"this case is {current.value.replace('_', ' ')}.",
            409,
        )


def reopened(facts: CaseFacts, *, in_place: bool = False) -> tuple[CaseFacts, EventView]:
    """The facts with the mistaken withdrawal (or refusal to assess) taken away, and the
    event undone. A refusal is undone whole: record the right decision afterwards."""
    kind = EventKind.WITHDRAWN if facts.withdrawal is not None else EventKind.DECISION_TO_ASSESS
    event = _latest(facts, kind)
    if event is None:
        raise _not_correctable(f"There is no {kind.replace('_', ' ')} event to undo.")
    new = facts if in_place else facts.model_copy(deep=True)
    if kind == EventKind.WITHDRAWN:
        new.withdrawal = None
    else:
        new.decision_to_assess = None
    for advice_id in filter(None, event.detail.get("advice_moved_on", "").split(",")):
        request = new.advice(advice_id)
        if request.outcome is AdviceOutcome.CASE_MOVED_ON:
            request.outcome = AdviceOutcome.OUTSTANDING
            request.outcome_on = None
    if case_evaluation.stage(new) not in TERMINAL_STAGES:
        new.closed_at = None
    return new, event


# --- what the trail means once corrected ------------------------------------------------


def amended(events: Sequence[EventLike]) -> tuple[dict[int, tuple[date, dict[str, str]]], set[int]]:
    """For readers of the trail (the returns): each corrected event's latest date and
    changed codes, by its seq, and the seqs a reopening undid."""
    changes: dict[int, tuple[date, dict[str, str]]] = {}
    undone: set[int] = set()
    for event in events:
        if event.kind == CORRECTED:
            target = int(event.detail["corrects"])
            _, before = changes.get(target, (event.occurred_on, {}))
            fields = {
                k: str(v)
                for k, v in event.detail.items()
                if k not in ("corrects", "event_kind", "update_id") and not k.endswith("_was")
            }
            changes[target] = (event.occurred_on, {**before, **fields})
        elif event.kind == REOPENED:
            undone.add(int(event.detail["undoes"]))
    return changes, undone
