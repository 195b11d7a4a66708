"""What a case's audit trail says about it *as at* a date, in SEN2's terms.

Both the SEN2 return and the timeliness report describe a period as it stood at the end of
that period: events dated after ``as_at`` are ignored, whenever they were entered. The
codes are SEN2's: request outcome Y (assess), N (not assess), W (withdrawn before the
decision), A (not yet decided); assessment outcome Y (plan to be issued), N (no plan),
W (withdrawn before the decision whether to issue), A (not yet decided).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from ehc import measures, statutory
from ehc.corrections import CORRECTED, REOPENED, amended
from ehc.models import EventKind
from ehc.store.report_queries import CaseRecord, EventRecord

RequestOutcome = Literal["Y", "N", "W", "A"]
AssessmentOutcome = Literal["Y", "N", "W", "A"]
Band = Literal["within_20_weeks", "gt20weeks_ltYear", "gt_1_year"]


def _sen2_code(
    decision: str | None, yes: str, withdrawn_on: date | None
) -> Literal["Y", "N", "W", "A"]:
    """SEN2's code for a decision whose answers are ``yes`` and ``not_<yes>``: Y or N, else
    W (withdrawn before it was made) or A (not made yet)."""
    if decision == yes:
        return "Y"
    if decision == f"not_{yes}":
        return "N"
    if withdrawn_on is not None:
        return "W"
    return "A"


@dataclass(frozen=True)
class CaseOutcome:
    """A case as at a date: its decisions, plan, withdrawal and 20-week exceptions."""

    case_ref: str
    received_on: date
    assess_on: date | None
    assess_decision: str | None
    issue_on: date | None
    issue_decision: str | None
    final_plan_on: date | None
    withdrawn_on: date | None
    week20_exception: bool

    # --- requests (SEN2 module 2) --------------------------------------------------

    @property
    def request_outcome(self) -> RequestOutcome:
        return _sen2_code(self.assess_decision, "assess", self.withdrawn_on)

    @property
    def request_outcome_on(self) -> date | None:
        if self.assess_on is not None:
            return self.assess_on
        return self.withdrawn_on

    @property
    def decided_within_6_weeks(self) -> bool | None:
        """Regs 4(1)/5(1): was the decision whether to assess notified within 6 weeks?
        ``None`` when no decision was made (withdrawn or still open)."""
        if self.assess_on is None:
            return None
        return self.assess_on <= statutory.decision_to_assess_due(self.received_on)

    # --- assessments (SEN2 module 3) -----------------------------------------------

    @property
    def assessed(self) -> bool:
        return self.assess_decision == "assess"

    @property
    def assessment_outcome(self) -> AssessmentOutcome | None:
        """``None`` when there is no assessment (not decided to assess)."""
        if not self.assessed:
            return None
        return _sen2_code(self.issue_decision, "issue", self.withdrawn_on)

    @property
    def assessment_outcome_on(self) -> date | None:
        outcome = self.assessment_outcome
        if outcome in ("Y", "N"):
            return self.issue_on
        if outcome == "W":
            return self.withdrawn_on
        return None

    @property
    def no_plan_within_16_weeks(self) -> bool | None:
        """Reg 10(1): for a decision not to issue, was it notified within 16 weeks?"""
        if self.issue_decision != "not_issue" or self.issue_on is None:
            return None
        return self.issue_on <= statutory.no_plan_notice_due(self.received_on)

    # --- new plans (timeliness) ----------------------------------------------------

    @property
    def days_to_plan(self) -> int | None:
        if self.final_plan_on is None:
            return None
        return (self.final_plan_on - self.received_on).days

    @property
    def band(self) -> Band | None:
        """Reg 13(2): within 20 weeks (on or before Day 0 + 140 days); more than 20 weeks
        up to 52 weeks (Day 0 + 364 days); or more than 52 weeks."""
        if self.final_plan_on is None:
            return None
        if measures.issued_within_20_weeks(self.received_on, self.final_plan_on):
            return "within_20_weeks"
        if self.final_plan_on <= statutory.within_weeks(self.received_on, 52):
            return "gt20weeks_ltYear"
        return "gt_1_year"

    # --- the whole request ---------------------------------------------------------

    @property
    def closed_on(self) -> date | None:
        """The day the request stopped being active, as at the date of this outcome."""
        if self.withdrawn_on is not None:
            return self.withdrawn_on
        if self.assess_decision == "not_assess":
            return self.assess_on
        if self.issue_decision == "not_issue":
            return self.issue_on
        return self.final_plan_on

    def active_between(self, start: date, end: date) -> bool:
        """Open at some point from ``start`` to ``end`` inclusive."""
        closed = self.closed_on
        return self.received_on <= end and (closed is None or closed >= start)


def notice_date(event: EventRecord) -> date:
    """The date a decision was *notified* to the family (regs 4(1), 5(1), 10(1); rules.md
    8.2), which is what SEN2's RequestOutcomeDate and AssessmentOutcomeDate record (see
    docs/reports.md). Events recorded before ``notified_on`` existed carry only the
    decision date; other events are dated as they happened."""
    notified = event.detail.get("notified_on")
    if event.kind in (EventKind.DECISION_TO_ASSESS, EventKind.DECISION_TO_ISSUE) and isinstance(
        notified, str
    ):
        try:
            return date.fromisoformat(notified)
        except ValueError:
            return event.occurred_on
    return event.occurred_on


def corrected_events(events: Sequence[EventRecord]) -> list[EventRecord]:
    """The trail as corrected: each corrected event with its latest date and codes, and
    the events a reopening undid left out."""
    changes, undone = amended(events)
    return [
        replace(
            e,
            occurred_on=changes[e.seq][0],
            detail={**e.detail, **changes[e.seq][1]},
        )
        if e.seq in changes
        else e
        for e in events
        if e.seq not in undone and e.kind not in (CORRECTED, REOPENED)
    ]


def outcome_as_at(case: CaseRecord, as_at: date) -> CaseOutcome:
    """The case's outcome from its audit events dated on or before ``as_at``; an exception
    case if ``measures.exception_case_as_at`` says so."""
    assess_on = assess_decision = issue_on = issue_decision = None
    final_plan_on = withdrawn_on = None
    for event in corrected_events(case.events):
        on = notice_date(event)
        if on > as_at:
            continue
        if event.kind == EventKind.DECISION_TO_ASSESS and assess_on is None:
            assess_on, assess_decision = on, str(event.detail.get("decision"))
        elif event.kind == EventKind.DECISION_TO_ISSUE and issue_on is None:
            issue_on, issue_decision = on, str(event.detail.get("decision"))
        elif event.kind == EventKind.FINAL_PLAN_ISSUED and final_plan_on is None:
            final_plan_on = event.occurred_on
        elif event.kind == EventKind.WITHDRAWN and withdrawn_on is None:
            withdrawn_on = event.occurred_on
    return CaseOutcome(
        case_ref=case.case_ref,
        received_on=case.received_on,
        assess_on=assess_on,
        assess_decision=assess_decision,
        issue_on=issue_on,
        issue_decision=issue_decision,
        final_plan_on=final_plan_on,
        withdrawn_on=withdrawn_on,
        week20_exception=measures.exception_case_as_at(case.final_plan_exceptions, as_at),
    )
