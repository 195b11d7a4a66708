"""The facts of one assessment and what the law makes of them on a given day.

Pure code shared by the assessment workflow (its state), its update validators and tests:
no I/O, no clock. ``CaseFacts`` is what happened; ``evaluate`` turns facts and a date into
the case view with every limit's status. Commands are checked by ``check_*`` functions
that raise ``CommandRefused`` with a sentence a caseworker understands.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from ehc import statutory
from ehc.chasing import ChasingPolicy
from ehc.models import (
    CLOSED_ADVICE,
    TERMINAL_STAGES,
    AdviceOutcome,
    AdviceOutcomeCommand,
    AdviceReceived,
    AdviceRequestCommand,
    AdviceRequestView,
    AssessmentInput,
    CaseView,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    EventView,
    ExceptionCommand,
    ExceptionView,
    FinalPlan,
    LimitView,
    Stage,
    Withdrawal,
)
from ehc.statutory import Agency, Limit, LimitStatus

FINALISED_EARLY = "finalised_inside_representation_period"

# Which reading of the law a case is evaluated under. Workflows recorded before the
# readings of rules.md section 8 keep ``ORIGINAL_READING`` so that their histories replay
# (the assessment workflow decides with ``workflow.patched``); everything else, including
# every pure caller, gets ``CLOSER_READING``.
ORIGINAL_READING = 1
CLOSER_READING = 2


class CommandRefused(ValueError):
    """An event the case cannot accept; ``code`` is stable, ``detail`` a sentence."""

    def __init__(self, code: str, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


class AdviceRequestFacts(BaseModel):
    id: str
    agency: Agency
    team: str | None = None
    requested_on: date
    received_by_adviser_on: date
    advice_received_on: date | None = None
    outcome: AdviceOutcome = AdviceOutcome.OUTSTANDING
    outcome_on: date | None = None
    policy: ChasingPolicy = ChasingPolicy()
    ladder_rungs: int = 0
    chasing_started: bool = False
    chasing_cycle: int = 0
    chaser_told: AdviceOutcome | Literal["case_closed"] = AdviceOutcome.OUTSTANDING
    rechase: bool = False  # a correction moved its dates: chase again on the new schedule

    @property
    def open(self) -> bool:
        return self.outcome not in CLOSED_ADVICE


class CaseFacts(BaseModel):
    """Everything that happened on a case, as entered. The workflow's whole state."""

    case: AssessmentInput
    decision_to_assess: DecisionToAssess | None = None
    advice_requests: list[AdviceRequestFacts] = Field(default_factory=list)
    exceptions: list[ExceptionView] = Field(default_factory=list)
    decision_to_issue: DecisionToIssue | None = None
    draft_plan: DraftPlan | None = None
    final_plan: FinalPlan | None = None
    withdrawal: Withdrawal | None = None
    events: list[EventView] = Field(default_factory=list)
    recorded_statuses: dict[str, LimitStatus] = Field(default_factory=dict)
    update_ids: list[str] = Field(default_factory=list)
    closed_at: AwareDatetime | None = None
    reading: int = CLOSER_READING

    @property
    def closer(self) -> bool:
        """Evaluated under the readings of rules.md section 8."""
        return self.reading >= CLOSER_READING

    @property
    def day0(self) -> date:
        return self.case.received_on

    def add_event(
        self, kind: str, occurred_on: date, entered_at: datetime, entered_by: str, **detail: str
    ) -> EventView:
        event = EventView(
            seq=len(self.events) + 1,
            kind=kind,
            occurred_on=occurred_on,
            entered_at=entered_at,
            entered_by=entered_by,
            detail=detail,
        )
        self.events.append(event)
        return event

    def advice(self, advice_id: str) -> AdviceRequestFacts:
        for request in self.advice_requests:
            if request.id == advice_id:
                return request
        raise CommandRefused("not_found", f"No advice request {advice_id} on this case.", 404)


def refused_to_assess(facts: CaseFacts) -> bool:
    """The LA decided not to assess (Reg 4(1) refusal notice)."""
    return bool(facts.decision_to_assess and facts.decision_to_assess.decision == "not_assess")


def notice_on(decision: DecisionToAssess | DecisionToIssue) -> date:
    """Regs 4(1), 5(1) and 10(1) time the *notification* to the parent or young person:
    the date the notice was sent, which is the decision date when not given (rules.md 8.2)."""
    return decision.notified_on or decision.decided_on


def advice_statutory(facts: CaseFacts, request: AdviceRequestFacts) -> bool:
    """Reg 8(1) binds bodies under CFA s.31 only; CoP 9.41 advice is guidance (rules.md 8.4).
    Cases evaluated under the original reading treat all advice as statutory."""
    return not facts.closer or statutory.advice_is_statutory(request.agency)


def advice_period(facts: CaseFacts, request: AdviceRequestFacts) -> tuple[date, date]:
    """The advice limit's period: from the body's receipt (Reg 8(1)) or, for CoP 9.41
    advice, from the LA's request (rules.md 8.4), to the due date 6 weeks later."""
    start = request.received_by_adviser_on
    if facts.closer:
        start = statutory.advice_period_start(
            request.agency,
            requested_on=request.requested_on,
            received_on=request.received_by_adviser_on,
        )
    return start, statutory.advice_due(start)


# --- stage ------------------------------------------------------------------------------


def stage(facts: CaseFacts) -> Stage:
    """The case's stage from what has happened (rules.md section 6)."""
    if facts.withdrawal:
        return Stage.WITHDRAWN
    if facts.decision_to_assess is None:
        return Stage.AWAITING_DECISION_TO_ASSESS
    if facts.decision_to_assess.decision == "not_assess":
        return Stage.CLOSED_NOT_ASSESSED
    if facts.final_plan:
        return Stage.PLAN_ISSUED
    if facts.draft_plan:
        return Stage.DRAFT_ISSUED
    if facts.decision_to_issue is None:
        advice = facts.advice_requests
        if advice and not any(a.open for a in advice):
            return Stage.AWAITING_DECISION_TO_ISSUE
        return Stage.GATHERING_ADVICE
    if facts.decision_to_issue.decision == "not_issue":
        return Stage.CLOSED_NO_PLAN
    return Stage.DRAFTING


def closed_on(facts: CaseFacts) -> date | None:
    """The date the case reached a closing stage, if it has."""
    if facts.withdrawal:
        return facts.withdrawal.withdrawn_on
    if facts.decision_to_assess and refused_to_assess(facts):
        return facts.decision_to_assess.decided_on
    if facts.decision_to_issue and facts.decision_to_issue.decision == "not_issue":
        return facts.decision_to_issue.decided_on
    if facts.final_plan:
        return facts.final_plan.issued_on
    return None


# --- evaluation ------------------------------------------------------------------------


def _excused(facts: CaseFacts, limit: Limit, advice_id: str | None = None) -> list[str]:
    refusal = refused_to_assess(facts)
    allowed = statutory.allowed_kinds(limit, refusal=refusal)
    if not facts.closer and limit is Limit.DECISION_TO_ASSESS and not refusal:
        allowed = allowed | {statutory.ExceptionKind.EARLY_YEARS_CLOSURE}
    if (
        facts.closer
        and limit is Limit.ADVICE
        and advice_id is not None
        and not advice_statutory(facts, facts.advice(advice_id))
    ):
        allowed = allowed - {statutory.ExceptionKind.MISSED_APPOINTMENT}
    return [
        e.id
        for e in facts.exceptions
        if e.limit is limit
        and e.advice_id == advice_id
        and e.kind in allowed
        and (not facts.closer or _still_valid(facts, e))
    ]


def _still_valid(facts: CaseFacts, exception: ExceptionView) -> bool:
    """Rules.md 8.1 applied to exceptions recorded before it: one whose circumstance falls
    outside the limit's period no longer excuses the limit (nor sets SEN2 Week20)."""
    closure = exception.closure
    claim = statutory.ExceptionClaim(
        limit=exception.limit,
        kind=exception.kind,
        starts_on=exception.starts_on,
        ends_on=exception.ends_on,
        closure=statutory.Closure(
            closure.closed_on, closure.reopens_on, closure.advice_requested_on
        )
        if closure
        else None,
    )
    try:
        starts, due = _limit_period(facts, exception.limit, exception.advice_id)
        reg8 = True
        if exception.limit is Limit.ADVICE and exception.advice_id is not None:
            reg8 = advice_statutory(facts, facts.advice(exception.advice_id))
        statutory.validate_exception(
            claim,
            period_starts_on=starts,
            due_on=due,
            refusal=refused_to_assess(facts),
            reg8_body=reg8,
        )
    except (statutory.ExceptionRefused, CommandRefused):
        return False
    return True


def _withdrawn_before(facts: CaseFacts, due_on: date) -> bool:
    return facts.withdrawal is not None and facts.withdrawal.withdrawn_on <= due_on


def _limit(
    facts: CaseFacts,
    limit: Limit,
    *,
    due_on: date,
    met_on: date | None,
    today: date,
    applicable: bool = True,
    advice_id: str | None = None,
    blocked_by: str | None = None,
    regulation: str | None = None,
    is_statutory: bool | None = None,
    status: LimitStatus | None = None,
) -> LimitView:
    exceptions = _excused(facts, limit, advice_id)
    if status is None:
        status = statutory.limit_status(
            due_on=due_on,
            met_on=met_on,
            today=today,
            applicable=applicable,
            excused=bool(exceptions),
        )
    at_risk = (
        status is LimitStatus.PENDING
        and blocked_by is not None
        and (due_on - today).days <= facts.case.at_risk_days
    )
    return LimitView(
        limit=limit,
        regulation=regulation or statutory.REGULATION[limit],
        statutory=statutory.STATUTORY[limit] if is_statutory is None else is_statutory,
        rule_version=rule_version_for(due_on),
        due_on=due_on,
        met_on=met_on,
        status=status,
        advice_id=advice_id,
        exceptions=exceptions,
        blocked_by=blocked_by if status is LimitStatus.PENDING else None,
        at_risk=at_risk,
    )


def rule_version_for(due_on: date) -> str | None:
    """Rules.md 8.7: a limit shows the rule version in force on its own due date."""
    try:
        return statutory.rule_version(due_on).name
    except statutory.NoRuleVersion:
        return None


def _decision_to_assess(facts: CaseFacts, today: date) -> LimitView:
    """Regs 4(1) and 5(1): met when the parent or young person is notified (rules.md 8.2)."""
    decision = facts.decision_to_assess
    due = statutory.decision_to_assess_due(facts.day0)
    return _limit(
        facts,
        Limit.DECISION_TO_ASSESS,
        due_on=due,
        met_on=notice_on(decision) if decision else None,
        today=today,
        applicable=not (decision is None and _withdrawn_before(facts, due)),
        blocked_by="decision whether to assess not recorded",
    )


def _advice(facts: CaseFacts, request: AdviceRequestFacts, today: date) -> LimitView:
    """Reg 8(1) advice is statutory and timed from the body's receipt; CoP 9.41 advice is
    guidance (``statutory: false``) timed from the request (rules.md 8.4)."""
    _, due = advice_period(facts, request)
    withdrawn_in_time = (
        request.outcome is AdviceOutcome.WITHDRAWN
        and request.outcome_on is not None
        and request.outcome_on <= due
    )
    unmet = request.advice_received_on is None
    applicable = not (unmet and (withdrawn_in_time or _withdrawn_before(facts, due)))
    return _limit(
        facts,
        Limit.ADVICE,
        due_on=due,
        met_on=request.advice_received_on,
        today=today,
        applicable=applicable,
        advice_id=request.id,
        blocked_by=f"{request.agency.value} advice not received",
        regulation=statutory.regulation_for_advice(request.agency),
        is_statutory=advice_statutory(facts, request),
    )


def _outstanding(facts: CaseFacts) -> str | None:
    waiting = sorted({a.agency.value for a in facts.advice_requests if a.open})
    if waiting:
        return "advice outstanding: " + ", ".join(waiting)
    if facts.decision_to_issue is None:
        return "decision whether to issue a plan not recorded"
    if facts.draft_plan is None:
        return "draft plan not served"
    return None


def _no_plan_notice(facts: CaseFacts, today: date) -> LimitView:
    """Reg 10(1) applies only if the outcome is no plan (rules.md 8.3): until the decision
    whether to issue is recorded the limit is ``pending`` (at risk once its date has
    passed); it is ``breached`` only when a "no plan" notice goes out after its due date,
    and ``not_applicable`` when the outcome is to issue. Cases under the original reading
    show it as breached while the decision is outstanding past week 16."""
    due = statutory.no_plan_notice_due(facts.day0)
    issue = facts.decision_to_issue
    not_assessed = refused_to_assess(facts)
    applicable = not (
        not_assessed
        or (issue is not None and issue.decision == "issue")
        or (issue is None and _withdrawn_before(facts, due))
    )
    if facts.closer and issue is None and facts.withdrawal is not None:
        applicable = False  # no notice will ever be given: the case ended without one
    met_on = notice_on(issue) if issue and issue.decision == "not_issue" else None
    status: LimitStatus | None = None
    if facts.closer and applicable and issue is None:
        status = LimitStatus.PENDING
    view = _limit(
        facts,
        Limit.NO_PLAN_NOTICE,
        due_on=due,
        met_on=met_on,
        today=today,
        applicable=applicable,
        blocked_by=_outstanding(facts),
        status=status,
    )
    if status is LimitStatus.PENDING and today > due:
        view.at_risk = True
    return view


def _final_plan(facts: CaseFacts, today: date) -> LimitView:
    due = statutory.final_plan_due(facts.day0)
    refused = bool(
        refused_to_assess(facts)
        or (facts.decision_to_issue and facts.decision_to_issue.decision == "not_issue")
    )
    applicable = not (refused or (facts.final_plan is None and _withdrawn_before(facts, due)))
    return _limit(
        facts,
        Limit.FINAL_PLAN,
        due_on=due,
        met_on=facts.final_plan.issued_on if facts.final_plan else None,
        today=today,
        applicable=applicable,
        blocked_by=_outstanding(facts) or "final plan not issued",
    )


def _representations(facts: CaseFacts, draft: DraftPlan, today: date) -> LimitView:
    """Reg 13(1): at least 15 days beginning with service. Not an LA deadline: the period
    is ``met`` once it has run in full, ``breached`` if the plan was finalised inside it."""
    end = statutory.representations_end(draft.served_on)
    final = facts.final_plan
    if final is not None and final.issued_on <= end:
        status = LimitStatus.BREACHED
    elif today > end:
        status = LimitStatus.MET
    else:
        status = LimitStatus.PENDING
    return LimitView(
        limit=Limit.DRAFT_REPRESENTATIONS,
        regulation=statutory.REGULATION[Limit.DRAFT_REPRESENTATIONS],
        statutory=True,
        rule_version=rule_version_for(end),
        family=True,
        due_on=end,
        met_on=end if status is LimitStatus.MET else None,
        status=status,
    )


def limits(facts: CaseFacts, today: date) -> list[LimitView]:
    views = [_decision_to_assess(facts, today)]
    views += [_advice(facts, a, today) for a in facts.advice_requests]
    views += [_no_plan_notice(facts, today)]
    if facts.draft_plan:
        views.append(_representations(facts, facts.draft_plan, today))
    views.append(_final_plan(facts, today))
    return views


def limit_key(view: LimitView) -> str:
    return f"{view.limit.value}:{view.advice_id}" if view.advice_id else view.limit.value


def evaluate(facts: CaseFacts, today: date) -> CaseView:
    """The case as the law sees it on ``today``."""
    views = limits(facts, today)
    advice_status = {v.advice_id: v.status for v in views if v.advice_id}
    pending = [
        v.due_on
        for v in views
        if v.status is LimitStatus.PENDING
        and v.statutory
        and not (facts.closer and v.family)  # rules.md 8.7: the family's date, not the LA's
    ]
    flags = []
    if any(
        v.limit is Limit.DRAFT_REPRESENTATIONS and v.status is LimitStatus.BREACHED for v in views
    ):
        flags.append(FINALISED_EARLY)
    return CaseView(
        case_ref=facts.case.case_ref,
        stage=stage(facts),
        received_on=facts.day0,
        anchor=facts.case.anchor,
        requested_by=facts.case.requested_by,
        rule_version=statutory.rule_version(facts.day0).name,
        as_of=today,
        limits=views,
        advice_requests=[
            AdviceRequestView(
                id=a.id,
                agency=a.agency,
                team=a.team,
                regulation=statutory.regulation_for_advice(a.agency),
                requested_on=a.requested_on,
                received_by_adviser_on=a.received_by_adviser_on,
                due_on=advice_period(facts, a)[1],
                statutory=advice_statutory(facts, a),
                advice_received_on=a.advice_received_on,
                status=advice_status[a.id],
                outcome=a.outcome,
            )
            for a in facts.advice_requests
        ],
        exceptions=list(facts.exceptions),
        flags=flags,
        events=list(facts.events),
        next_due_on=min(pending) if pending else None,
        # Only statutory limits make a case breached (rules.md 8.4).
        breached=any(v.status is LimitStatus.BREACHED and v.statutory for v in views),
    )


def is_settled(facts: CaseFacts, today: date) -> bool:
    """Closed and no statutory limit still pending: the workflow may finish after grace."""
    return stage(facts) in TERMINAL_STAGES and not any(
        v.status is LimitStatus.PENDING for v in limits(facts, today)
    )


# --- checks on commands ---------------------------------------------------------------


def _check_date(facts: CaseFacts, on: date, what: str, today: date) -> None:
    if on < facts.day0:
        raise CommandRefused(
            "before_day0",
            f"{what} ({on.isoformat()}) is before the request was received "
            f"({facts.day0.isoformat()}).",
        )
    if on > today:
        raise CommandRefused(
            "date_in_future",
            f"{what} ({on.isoformat()}) is in the future; record events once they have happened.",
        )


def _check_open(facts: CaseFacts) -> None:
    current = stage(facts)
    if current in TERMINAL_STAGES:
        raise CommandRefused(
            "case_closed",
            f"The case is closed ({current.value}); nothing more can be recorded.",
            409,
        )


def _check_notice(facts: CaseFacts, cmd: DecisionToAssess | DecisionToIssue, today: date) -> None:
    """Rules.md 8.2: the notice goes out on or after the decision, never in the future."""
    if cmd.notified_on is None:
        return
    _check_date(facts, cmd.notified_on, "The date the notice was sent", today)
    if cmd.notified_on < cmd.decided_on:
        raise CommandRefused(
            "invalid_dates", "The notice of a decision cannot be sent before the decision."
        )


def check_decision_to_assess(facts: CaseFacts, cmd: DecisionToAssess, today: date) -> None:
    _check_open(facts)
    if facts.decision_to_assess is not None:
        raise CommandRefused(
            "already_decided", "A decision whether to assess is already recorded.", 409
        )
    _check_date(facts, cmd.decided_on, "The decision date", today)
    _check_notice(facts, cmd, today)


def _require_assessing(facts: CaseFacts, what: str) -> None:
    _check_open(facts)
    if facts.decision_to_assess is None:
        raise CommandRefused("out_of_order", f"Record the decision to assess before {what}.", 409)


def check_advice_request(facts: CaseFacts, cmd: AdviceRequestCommand, today: date) -> None:
    _require_assessing(facts, "requesting advice")
    if facts.decision_to_issue is not None:
        raise CommandRefused(
            "out_of_order", "Advice cannot be requested after the decision whether to issue.", 409
        )
    _check_date(facts, cmd.requested_on, "The request date", today)
    received = cmd.received_on or cmd.requested_on
    if received < cmd.requested_on:
        raise CommandRefused(
            "invalid_dates", "The adviser cannot receive the request before it was sent."
        )
    _check_date(facts, received, "The date the adviser received the request", today)


def check_advice_received(facts: CaseFacts, cmd: AdviceReceived, today: date) -> None:
    """Advice cannot be recorded as received on a withdrawn case or request (rules.md 8.7)."""
    request = facts.advice(cmd.advice_id)
    if facts.withdrawal is not None:
        raise CommandRefused(
            "case_withdrawn",
            "The request for assessment was withdrawn; advice can no longer be recorded on it.",
            409,
        )
    if request.outcome is AdviceOutcome.WITHDRAWN:
        raise CommandRefused("advice_withdrawn", f"Advice request {request.id} was withdrawn.", 409)
    if request.advice_received_on is not None:
        raise CommandRefused(
            "already_received",
            f"Advice for {request.id} was already recorded as received on "
            f"{request.advice_received_on.isoformat()}.",
            409,
        )
    _check_date(facts, cmd.received_on, "The date advice was received", today)
    if cmd.received_on < request.requested_on:
        raise CommandRefused("invalid_dates", "Advice cannot arrive before it was requested.")


def _period(facts: CaseFacts, cmd: ExceptionCommand) -> tuple[date, date]:
    return _limit_period(facts, cmd.limit, cmd.advice_id)


def _limit_period(facts: CaseFacts, limit: Limit, advice_id: str | None) -> tuple[date, date]:
    """A limit's period, from its start to its due date (rules.md 8.1)."""
    if limit is Limit.ADVICE:
        if advice_id is None:
            raise CommandRefused(
                "advice_id_required", "An exception on advice must name the advice request."
            )
        return advice_period(facts, facts.advice(advice_id))
    due = {
        Limit.DECISION_TO_ASSESS: statutory.decision_to_assess_due,
        Limit.NO_PLAN_NOTICE: statutory.no_plan_notice_due,
        Limit.FINAL_PLAN: statutory.final_plan_due,
    }.get(limit)
    if due is None:
        raise CommandRefused("no_exceptions", f"The {limit.value} period has no lawful exceptions.")
    return facts.day0, due(facts.day0)


def check_exception(facts: CaseFacts, cmd: ExceptionCommand, today: date) -> None:
    """Regs 5(4), 8(2), 10(4), 13(3) via ``statutory.validate_exception``: the circumstance
    must fall in the limit's period and have happened (rules.md 8.1). An exception may be
    recorded after the limit was met or breached, while the case is open or in its grace
    period (the workflow refuses everything once that has ended); its ``entered_at`` shows
    when."""
    if cmd.limit is not Limit.ADVICE and cmd.advice_id is not None:
        raise CommandRefused("invalid_input", "Only an advice exception names an advice request.")
    starts, due = _period(facts, cmd)
    refusal = refused_to_assess(facts)
    reg8_body = True
    if cmd.limit is Limit.ADVICE and cmd.advice_id is not None:
        reg8_body = advice_statutory(facts, facts.advice(cmd.advice_id))
    closure = cmd.closure
    claim = statutory.ExceptionClaim(
        limit=cmd.limit,
        kind=cmd.kind,
        starts_on=cmd.starts_on,
        ends_on=cmd.ends_on,
        closure=statutory.Closure(
            closure.closed_on, closure.reopens_on, closure.advice_requested_on
        )
        if closure
        else None,
    )
    try:
        statutory.validate_exception(
            claim,
            period_starts_on=starts,
            due_on=due,
            refusal=refusal,
            today=today,
            reg8_body=reg8_body,
        )
    except statutory.ExceptionRefused as exc:
        raise CommandRefused("exception_refused", f"{exc.reason} ({exc.rule})") from exc


def check_decision_to_issue(facts: CaseFacts, cmd: DecisionToIssue, today: date) -> None:
    _require_assessing(facts, "deciding whether to issue a plan")
    if facts.decision_to_issue is not None:
        raise CommandRefused(
            "already_decided", "A decision whether to issue a plan is already recorded.", 409
        )
    _check_date(facts, cmd.decided_on, "The decision date", today)
    _check_notice(facts, cmd, today)
    assert facts.decision_to_assess is not None
    if cmd.decided_on < facts.decision_to_assess.decided_on:
        raise CommandRefused(
            "invalid_dates", "The decision to issue cannot come before the decision to assess."
        )


def check_draft_plan(facts: CaseFacts, cmd: DraftPlan, today: date) -> None:
    _check_open(facts)
    issue = facts.decision_to_issue
    if issue is None or issue.decision != "issue":
        raise CommandRefused(
            "out_of_order", "Record a decision to issue a plan before serving the draft.", 409
        )
    if facts.draft_plan is not None:
        raise CommandRefused("already_served", "A draft plan is already recorded.", 409)
    _check_date(facts, cmd.served_on, "The date the draft was served", today)
    if cmd.served_on < issue.decided_on:
        raise CommandRefused(
            "invalid_dates", "The draft cannot be served before the decision to issue."
        )


def check_final_plan(facts: CaseFacts, cmd: FinalPlan, today: date) -> None:
    _check_open(facts)
    if facts.draft_plan is None:
        raise CommandRefused(
            "out_of_order", "Record the draft plan before issuing the final plan.", 409
        )
    _check_date(facts, cmd.issued_on, "The date the final plan was issued", today)
    if cmd.issued_on < facts.draft_plan.served_on:
        raise CommandRefused(
            "invalid_dates", "The final plan cannot be issued before the draft was served."
        )


def check_withdrawal(facts: CaseFacts, cmd: Withdrawal, today: date) -> None:
    _check_open(facts)
    _check_date(facts, cmd.withdrawn_on, "The withdrawal date", today)


def check_advice_outcome(facts: CaseFacts, cmd: AdviceOutcomeCommand, today: date) -> None:
    """Returned for quality (the original due date stands), a nil return, or withdrawn. A
    nil return answers the request, so like advice it cannot come on a withdrawn case
    (rules.md 8.7)."""
    request = facts.advice(cmd.advice_id)
    if facts.withdrawal is not None and cmd.outcome == "not_known_to_service":
        raise CommandRefused(
            "case_withdrawn",
            "The request for assessment was withdrawn; advice can no longer be recorded on it.",
            409,
        )
    if cmd.outcome == "returned_for_quality" and request.outcome is not AdviceOutcome.RECEIVED:
        raise CommandRefused(
            "not_received", "Only advice that has been received can be returned for quality.", 409
        )
    if cmd.outcome != "returned_for_quality" and not request.open:
        raise CommandRefused(
            "advice_closed",
            f"Advice request {request.id} is already {request.outcome.value.replace('_', ' ')}.",
            409,
        )
    _check_date(facts, cmd.on, "The date", today)
    if cmd.on < request.requested_on:
        raise CommandRefused("invalid_dates", "That date is before the advice was requested.")


def apply_advice_outcome(request: AdviceRequestFacts, cmd: AdviceOutcomeCommand) -> None:
    request.outcome = AdviceOutcome(cmd.outcome)
    request.outcome_on = cmd.on
    if request.outcome is AdviceOutcome.RETURNED_FOR_QUALITY:
        request.advice_received_on = None  # the resubmission is measured against the due date
    elif request.outcome is AdviceOutcome.NOT_KNOWN_TO_SERVICE:
        request.advice_received_on = cmd.on  # a valid nil return answers the request


def apply_advice_received(request: AdviceRequestFacts, received_on: date) -> None:
    request.advice_received_on = received_on
    request.outcome = AdviceOutcome.RECEIVED
    request.outcome_on = received_on
