"""One durable workflow per EHC needs assessment, id ``assessment-{case_ref}``.

The workflow holds the case's facts, evaluates every statutory limit with the pure rules in
``ehc.case_evaluation`` and sleeps on a durable timer until the next due date ends in England.
Caseworkers' events arrive as updates whose validators refuse what the law or the order of
the process does not allow. Every change is projected into the case store by an activity.
No personal data enters the workflow: only the pseudonymous case reference, dates, codes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.projection import ProjectionActivities
    from ehc import case_evaluation, corrections
    from ehc.case_evaluation import AdviceRequestFacts, CaseFacts, CommandRefused
    from ehc.models import (
        CLOSED_ADVICE,
        TERMINAL_STAGES,
        AdviceInput,
        AdviceOutcome,
        AdviceOutcomeCommand,
        AdviceReceived,
        AdviceRequestCommand,
        AdviceState,
        AssessmentInput,
        CaseView,
        ChildChanged,
        Correction,
        DecisionToAssess,
        DecisionToIssue,
        DraftPlan,
        EventKind,
        ExceptionCommand,
        ExceptionView,
        FinalPlan,
        ImportedEvent,
        Reopen,
        Withdrawal,
    )
    from ehc.statutory import LimitStatus, end_of_london_day, london_date
    from ehc.temporal import BREACHED, NEXT_DUE, STAGE
    from workflows.advice import AdviceRequestWorkflow, advice_workflow_id

CHASING_PATCH = "advice-chasing-workflows"
# The readings of rules.md section 8 (notices, no-plan pending, guidance advice, ...).
# Histories recorded before them keep the original reading so that they replay.
LAW_READING_PATCH = "law-read-closer-2026-11"
# An update answers once the case store holds the change (the API reads cases from the
# store, so a caseworker reads their own write); and a limit whose status changes with no
# event of its own (the representations period running out) is projected too.
REPLY_AFTER_PROJECTION_PATCH = "reply-after-projection"
PROJECT_QUIET_CHANGES_PATCH = "project-quiet-status-changes"
MOVED_ON_PATCH = "advice-case-moved-on"
# The opening evaluation runs in ``__init__``, before any update of the first workflow task:
# the API answers a start with that same evaluation without waiting (issue 14), so the
# audit must not depend on how soon the first event follows the start.
OPENING_PATCH = "opening-evaluated-at-start"
# An imported case (``ehc import cases``) starts with its whole history in its input: applied
# in ``__init__``, one projection for all of it (issue 14). Old histories carry none.
BULK_HISTORY_PATCH = "bulk-history-at-start"
# The projection runs as a local activity, inside the workflow task that computed the view:
# no activity task through the server and no second workflow task to learn it finished, and
# the view (with every event) is no longer written into the history as an activity's input.
# A catch-up after downtime or a burst of starts costs one task per case (issue 14).
LOCAL_PROJECTION_PATCH = "projection-in-the-workflow-task"
SYSTEM = "system"
PROJECTION_TIMEOUT = timedelta(seconds=10)  # a crashed worker's attempt is retried after this
PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)
)
PROJECTION_WAIT = timedelta(seconds=5)  # how long an update waits for the store to hold it
MISSED = (LimitStatus.BREACHED, LimitStatus.EXCEPTION)
Command = TypeVar("Command")
P = ParamSpec("P")


def _reply_once_projected(
    handler: Callable[Concatenate[AssessmentWorkflow, P], CaseView],
) -> Callable[Concatenate[AssessmentWorkflow, P], Coroutine[Any, Any, CaseView]]:
    """Make an update handler answer only once the store holds what it changed."""

    async def answer(self: AssessmentWorkflow, /, *args: P.args, **kwargs: P.kwargs) -> CaseView:
        view = handler(self, *args, **kwargs)
        if workflow.patched(REPLY_AFTER_PROJECTION_PATCH):
            target = self.version
            # Bounded: a store that cannot take the write delays the answer, never stops it.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.projected_version >= target or self.projecting_stopped,
                    timeout=PROJECTION_WAIT,
                )
        return view

    functools.update_wrapper(answer, handler)  # Temporal reads the handler's name and types
    return answer


def workflow_id(case_ref: str) -> str:
    return f"assessment-{case_ref}"


def _notified(cmd: DecisionToAssess | DecisionToIssue) -> dict[str, str]:
    """The audit event carries the notice date (rules.md 8.2) for the store and reports."""
    return {"notified_on": case_evaluation.notice_on(cmd).isoformat()}


def _refused(exc: CommandRefused) -> ApplicationError:
    return ApplicationError(exc.detail, exc.status, type=exc.code, non_retryable=True)


@workflow.defn(name="Assessment")
class AssessmentWorkflow:
    @workflow.init
    def __init__(self, case: AssessmentInput) -> None:
        self.facts = CaseFacts(case=case)
        self.facts.reading = (
            case_evaluation.CLOSER_READING
            if workflow.patched(LAW_READING_PATCH)
            else case_evaluation.ORIGINAL_READING
        )
        self.version = 0
        self.projected_version = -1  # the version the store holds
        self.projecting_stopped = False
        self._importing: tuple[datetime, str] | None = None
        self.import_refused: str | None = None
        opening = workflow.patched(OPENING_PATCH)
        # The API answered the start with the opening evaluated at ``opened_at``: the audit
        # must say the same (a start without it, or an old history, uses the start's time).
        opened = case.opened_at if opening and case.opened_at is not None else workflow.now()
        self.facts.add_event(
            EventKind.REQUEST_RECEIVED,
            case.received_on,
            opened,
            case.entered_by,
            anchor=case.anchor.value,
            requested_by=case.requested_by.value,
        )
        if opening:
            self._refresh(at=opened)
        if case.history and workflow.patched(BULK_HISTORY_PATCH):
            self._import_history(case.history, at=opened)

    # --- an imported case's history, in one go ------------------------------------------

    def _import_history(self, history: list[ImportedEvent], *, at: datetime) -> None:
        """Apply an imported case's events in order, each checked first by the validator
        its own update runs and recorded by that update's own code, as if each had arrived
        at ``at`` with the update id ``import:{case_ref}:{n}`` (the per-event import's).
        The events are applied to a copy of the facts that replaces them only if every one
        passes: a refused event leaves the case as opened, and ``run`` fails the workflow
        with the reason (the importer checks the same rows first, so this is a safeguard).
        """
        today = london_date(at)
        opened, version = self.facts, self.version
        self.facts = opened.model_copy(deep=True)
        steps = self._import_steps()
        try:
            for n, event in enumerate(history, start=1):
                check, record = steps[event.update]
                try:
                    check(self.facts, event.command, today)
                except CommandRefused as exc:
                    self.facts, self.version = opened, version
                    self.import_refused = f"imported event {n} ({event.update}): {exc.detail}"
                    return
                self._importing = (at, f"import:{self.facts.case.case_ref}:{n}")
                record(event.command)
        finally:
            self._importing = None

    def _import_steps(self) -> dict[str, tuple[Callable[..., None], Callable[..., CaseView]]]:
        """For each update an import may carry: its validator's check, its handler's code."""
        return {
            "decision_to_assess": (
                case_evaluation.check_decision_to_assess,
                self._record_decision_to_assess,
            ),
            "request_advice": (case_evaluation.check_advice_request, self._record_request_advice),
            "advice_received": (
                case_evaluation.check_advice_received,
                self._record_advice_received,
            ),
            "decision_to_issue": (
                case_evaluation.check_decision_to_issue,
                self._record_decision_to_issue,
            ),
            "draft_plan": (case_evaluation.check_draft_plan, self._record_draft_plan),
            "final_plan": (case_evaluation.check_final_plan, self._record_final_plan),
            "withdraw": (case_evaluation.check_withdrawal, self._record_withdraw),
        }

    # --- the clock -------------------------------------------------------------------

    @workflow.run
    async def run(self, case: AssessmentInput) -> CaseView:
        if self.import_refused is not None:
            raise ApplicationError(self.import_refused, type="import_refused", non_retryable=True)
        projected = -1
        while True:
            view = self._refresh()
            # With the projection in the workflow task, the store is written first and the
            # chasers started after: an answer never waits on a chaser's start.
            projection_first = workflow.patched(LOCAL_PROJECTION_PATCH)
            if not projection_first and workflow.patched(CHASING_PATCH):
                await self._sync_chasers(view.stage in TERMINAL_STAGES)
            if projected != self.version:
                # The view must be the one of the version it is recorded as: an update can
                # land during any await above, so it is computed here, with no await
                # between reading the version and building the view.
                view = self._refresh()
                projected = self.version
                await self._project(view, in_task=projection_first)
                self.projected_version = projected
                continue
            if projection_first and workflow.patched(CHASING_PATCH):
                await self._sync_chasers(view.stage in TERMINAL_STAGES)
                if projected != self.version:
                    continue  # an update landed while a chaser started
            if self._finished(view):
                break
            await self._wait_for_change(until=self._next_deadline(view))
        self.projecting_stopped = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._refresh()

    def _refresh(self, at: datetime | None = None) -> CaseView:
        """Evaluate every limit now; record each breach and each correction in the audit."""
        now = workflow.now() if at is None else at
        view = case_evaluation.evaluate(self.facts, london_date(now))
        for limit in view.limits:
            key = case_evaluation.limit_key(limit)
            before = self.facts.recorded_statuses.get(key)
            if before == limit.status:
                continue
            self.facts.recorded_statuses[key] = limit.status
            if limit.status in MISSED:
                self._system_event(
                    EventKind(f"limit_{limit.status.value}"),
                    limit.due_on + timedelta(days=1),
                    key,
                    at=now,
                )
            elif before in MISSED:
                self._system_event(
                    EventKind.BREACH_CORRECTED, limit.due_on, key, at=now, to=limit.status.value
                )
            elif before is not None and workflow.patched(PROJECT_QUIET_CHANGES_PATCH):
                self.version += 1  # no event of its own, but the store must show it
        if view.stage in TERMINAL_STAGES and self.facts.closed_at is None:
            self.facts.closed_at = now
            self.version += 1
        return case_evaluation.evaluate(self.facts, london_date(now))

    def _system_event(self, kind: str, on: date, key: str, *, at: datetime, **detail: str) -> None:
        self.facts.add_event(kind, on, at, SYSTEM, limit=key, **detail)
        self.version += 1

    def _grace_ends(self) -> datetime | None:
        if self.facts.closed_at is None:
            return None
        return self.facts.closed_at + timedelta(days=self.facts.case.close_grace_days)

    def _finished(self, view: CaseView) -> bool:
        """Closed, nothing pending, and the grace period for late corrections is over."""
        grace_ends = self._grace_ends()
        pending = any(v.status is LimitStatus.PENDING for v in view.limits)
        return grace_ends is not None and not pending and workflow.now() >= grace_ends

    def _next_deadline(self, view: CaseView) -> datetime | None:
        """The end (in England) of the next pending due date, or of the grace period."""
        today = london_date(workflow.now())
        # A limit still pending after its date (the no-plan notice awaiting the decision,
        # rules.md 8.3) has no timer of its own: the next event re-evaluates it.
        ends = [
            end_of_london_day(v.due_on)
            for v in view.limits
            if v.status is LimitStatus.PENDING and v.due_on >= today
        ]
        grace_ends = self._grace_ends()
        if grace_ends is not None:
            ends.append(grace_ends)
        return min(ends) if ends else None

    async def _wait_for_change(self, until: datetime | None) -> None:
        """Sleep on a durable timer until ``until``, or until an event changes the case."""
        seen = self.version
        timeout = None if until is None else until - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self.version != seen, timeout=timeout)

    async def _project(self, view: CaseView, *, in_task: bool) -> None:
        if in_task:
            await workflow.execute_local_activity_method(
                ProjectionActivities.project_case,
                view,
                start_to_close_timeout=PROJECTION_TIMEOUT,
                retry_policy=PROJECTION_RETRY,
            )
        else:
            await workflow.execute_activity_method(
                ProjectionActivities.project_case,
                view,
                start_to_close_timeout=PROJECTION_TIMEOUT,
                retry_policy=PROJECTION_RETRY,
            )
        workflow.upsert_search_attributes(
            [
                STAGE.value_set(view.stage.value),
                BREACHED.value_set(view.breached),
                NEXT_DUE.value_set(end_of_london_day(view.next_due_on))
                if view.next_due_on
                else NEXT_DUE.value_unset(),
            ]
        )

    # --- chasing advice --------------------------------------------------------------

    async def _sync_chasers(self, case_closed: bool) -> None:
        """Start a chasing workflow for each new advice request (and after each return for
        quality); tell the running one when its request closes or the case does."""
        for request in self.facts.advice_requests:
            if (
                not case_closed
                and request.open
                and request.chasing_started
                and request.chaser_told in ("case_closed", AdviceOutcome.CASE_MOVED_ON)
                and request.team is not None
            ):
                # The case was reopened (a mistaken withdrawal undone): chase again.
                request.chasing_cycle += 1
                await self._start_chaser(request, resumed=True)
                continue
            if request.rechase and not case_closed:
                # A correction moved the request's dates: stop the old schedule, start anew.
                request.rechase = False
                if request.open and request.chasing_started:
                    await self._tell_chaser(request, "case_closed")
                    request.chasing_cycle += 1
                    await self._start_chaser(request, resumed=True)
                continue
            if case_closed and request.open and request.chasing_started:
                if request.chaser_told != "case_closed":
                    await self._tell_chaser(request, "case_closed")
                continue
            if request.team is None:
                continue  # no team in the directory for this agency: nobody to chase
            if not request.chasing_started and request.open and not case_closed:
                await self._start_chaser(request)
            elif request.outcome is AdviceOutcome.RETURNED_FOR_QUALITY and (
                request.chaser_told is not AdviceOutcome.RETURNED_FOR_QUALITY
            ):
                request.chasing_cycle += 1
                await self._start_chaser(request)
                request.chaser_told = AdviceOutcome.RETURNED_FOR_QUALITY
            elif request.outcome in CLOSED_ADVICE and request.chaser_told != request.outcome:
                await self._tell_chaser(request, request.outcome)

    def _chaser_id(self, request: AdviceRequestFacts) -> str:
        base = advice_workflow_id(request.id)
        return base if request.chasing_cycle == 0 else f"{base}-c{request.chasing_cycle}"

    async def _start_chaser(self, request: AdviceRequestFacts, *, resumed: bool = False) -> None:
        await workflow.start_child_workflow(
            AdviceRequestWorkflow.run,
            AdviceInput(
                advice_id=request.id,
                case_ref=self.facts.case.case_ref,
                agency=request.agency,
                team=request.team,
                requested_on=request.received_by_adviser_on,
                due_on=case_evaluation.advice_period(self.facts, request)[1],
                policy=request.policy,
                ladder_rungs=request.ladder_rungs,
                cycle=request.chasing_cycle,
                resumed=resumed,
            ),
            id=self._chaser_id(request),
            parent_close_policy=ParentClosePolicy.TERMINATE,  # a chaser holds nothing to tidy
        )
        request.chasing_started = True
        request.chaser_told = AdviceOutcome.OUTSTANDING

    async def _tell_chaser(self, request: AdviceRequestFacts, outcome: str) -> None:
        handle = workflow.get_external_workflow_handle_for(
            AdviceRequestWorkflow.run, self._chaser_id(request)
        )
        state = AdviceState(
            outcome=outcome,
            on=request.outcome_on or london_date(workflow.now()),
        )
        try:
            await handle.signal(AdviceRequestWorkflow.set_outcome, state)
        except Exception:  # the chaser already finished: nothing left to stop
            workflow.logger.info("chaser_already_finished")
        request.chaser_told = outcome  # type: ignore[assignment]

    # --- reading -----------------------------------------------------------------------

    @workflow.query
    def case_view(self) -> CaseView:
        return case_evaluation.evaluate(self.facts, london_date(workflow.now()))

    @workflow.update
    @_reply_once_projected
    def opened(self) -> CaseView:
        """The case as it stands, for the caller that started it (update-with-start)."""
        self._adopt_reading()
        return self._refresh()

    # --- events from caseworkers ---------------------------------------------------------

    def _adopt_reading(self) -> None:
        """A case started before the readings of rules.md section 8 adopts them at its next
        event. The switch is recorded by a patch marker named after that update, so old
        histories (no marker) replay as they ran and new ones replay with the switch."""
        if self.facts.closer:
            return
        info = workflow.current_update_info()
        if info is not None and workflow.patched(f"{LAW_READING_PATCH}@{info.id}"):
            self.facts.reading = case_evaluation.CLOSER_READING
            self.version += 1

    def _duplicate(self) -> bool:
        info = workflow.current_update_info()
        return info is not None and info.id in self.facts.update_ids

    def _check(self, check: Callable[[CaseFacts, Command, date], None], cmd: Command) -> None:
        if self._duplicate():
            return
        try:
            check(self.facts, cmd, london_date(workflow.now()))
        except CommandRefused as exc:
            raise _refused(exc) from None

    def _applied(self, kind: str, on: date, entered_by: str, **detail: str) -> CaseView:
        if self._importing is not None:  # an imported event: as its own update would record it
            at: datetime | None
            update_id: str | None
            at, update_id = self._importing
        else:
            info = workflow.current_update_info()
            at, update_id = None, None if info is None else info.id
        if update_id is not None:
            self.facts.update_ids.append(update_id)
            detail["update_id"] = update_id
        self.facts.add_event(kind, on, workflow.now() if at is None else at, entered_by, **detail)
        self.version += 1
        return self._refresh(at=at)

    @workflow.update
    @_reply_once_projected
    def decision_to_assess(self, cmd: DecisionToAssess) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_decision_to_assess(cmd)

    def _record_decision_to_assess(self, cmd: DecisionToAssess) -> CaseView:
        self.facts.decision_to_assess = cmd
        return self._applied(
            EventKind.DECISION_TO_ASSESS,
            cmd.decided_on,
            cmd.entered_by,
            decision=cmd.decision,
            **_notified(cmd),
        )

    @decision_to_assess.validator
    def _validate_decision_to_assess(self, cmd: DecisionToAssess) -> None:
        self._check(case_evaluation.check_decision_to_assess, cmd)

    @workflow.update
    @_reply_once_projected
    def request_advice(self, cmd: AdviceRequestCommand) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_request_advice(cmd)

    def _record_request_advice(self, cmd: AdviceRequestCommand) -> CaseView:
        advice_id = f"{self.facts.case.case_ref}-adv{len(self.facts.advice_requests) + 1}"
        self.facts.advice_requests.append(
            case_evaluation.AdviceRequestFacts(
                id=advice_id,
                agency=cmd.agency,
                team=cmd.team,
                requested_on=cmd.requested_on,
                received_by_adviser_on=cmd.received_on or cmd.requested_on,
                policy=cmd.policy,
                ladder_rungs=cmd.ladder_rungs,
            )
        )
        return self._applied(
            EventKind.ADVICE_REQUESTED,
            cmd.requested_on,
            cmd.entered_by,
            advice_id=advice_id,
            agency=cmd.agency.value,
        )

    @request_advice.validator
    def _validate_request_advice(self, cmd: AdviceRequestCommand) -> None:
        self._check(case_evaluation.check_advice_request, cmd)

    @workflow.update
    @_reply_once_projected
    def advice_received(self, cmd: AdviceReceived) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_advice_received(cmd)

    def _record_advice_received(self, cmd: AdviceReceived) -> CaseView:
        case_evaluation.apply_advice_received(self.facts.advice(cmd.advice_id), cmd.received_on)
        return self._applied(
            EventKind.ADVICE_RECEIVED, cmd.received_on, cmd.entered_by, advice_id=cmd.advice_id
        )

    @advice_received.validator
    def _validate_advice_received(self, cmd: AdviceReceived) -> None:
        self._check(case_evaluation.check_advice_received, cmd)

    @workflow.update
    @_reply_once_projected
    def advice_outcome(self, cmd: AdviceOutcomeCommand) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        case_evaluation.apply_advice_outcome(self.facts.advice(cmd.advice_id), cmd)
        return self._applied(
            EventKind(f"advice_{cmd.outcome}"), cmd.on, cmd.entered_by, advice_id=cmd.advice_id
        )

    @advice_outcome.validator
    def _validate_advice_outcome(self, cmd: AdviceOutcomeCommand) -> None:
        self._check(case_evaluation.check_advice_outcome, cmd)

    @workflow.update
    @_reply_once_projected
    def record_exception(self, cmd: ExceptionCommand) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        exception_id = f"{self.facts.case.case_ref}-exc{len(self.facts.exceptions) + 1}"
        self.facts.exceptions.append(
            ExceptionView(
                id=exception_id,
                limit=cmd.limit,
                kind=cmd.kind,
                advice_id=cmd.advice_id,
                starts_on=cmd.starts_on,
                ends_on=cmd.ends_on,
                closure=cmd.closure,
                entered_by=cmd.entered_by,
                entered_at=workflow.now(),
            )
        )
        return self._applied(
            EventKind.EXCEPTION_RECORDED,
            cmd.starts_on or london_date(workflow.now()),
            cmd.entered_by,
            exception_id=exception_id,
            limit=cmd.limit.value,
            exception_kind=cmd.kind.value,
        )

    @record_exception.validator
    def _validate_record_exception(self, cmd: ExceptionCommand) -> None:
        self._check(case_evaluation.check_exception, cmd)

    @workflow.update
    @_reply_once_projected
    def decision_to_issue(self, cmd: DecisionToIssue) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_decision_to_issue(cmd)

    def _record_decision_to_issue(self, cmd: DecisionToIssue) -> CaseView:
        self.facts.decision_to_issue = cmd
        moved_on = self._moved_on(cmd.decided_on) if cmd.decision == "not_issue" else {}
        return self._applied(
            EventKind.DECISION_TO_ISSUE,
            cmd.decided_on,
            cmd.entered_by,
            decision=cmd.decision,
            **_notified(cmd),
            **moved_on,
        )

    @decision_to_issue.validator
    def _validate_decision_to_issue(self, cmd: DecisionToIssue) -> None:
        self._check(case_evaluation.check_decision_to_issue, cmd)

    @workflow.update
    @_reply_once_projected
    def draft_plan(self, cmd: DraftPlan) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_draft_plan(cmd)

    def _record_draft_plan(self, cmd: DraftPlan) -> CaseView:
        self.facts.draft_plan = cmd
        return self._applied(EventKind.DRAFT_PLAN_SERVED, cmd.served_on, cmd.entered_by)

    @draft_plan.validator
    def _validate_draft_plan(self, cmd: DraftPlan) -> None:
        self._check(case_evaluation.check_draft_plan, cmd)

    @workflow.update
    @_reply_once_projected
    def final_plan(self, cmd: FinalPlan) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_final_plan(cmd)

    def _record_final_plan(self, cmd: FinalPlan) -> CaseView:
        self.facts.final_plan = cmd
        moved_on = self._moved_on(cmd.issued_on)
        return self._applied(EventKind.FINAL_PLAN_ISSUED, cmd.issued_on, cmd.entered_by, **moved_on)

    @final_plan.validator
    def _validate_final_plan(self, cmd: FinalPlan) -> None:
        self._check(case_evaluation.check_final_plan, cmd)

    @workflow.update
    @_reply_once_projected
    def withdraw(self, cmd: Withdrawal) -> CaseView:
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._record_withdraw(cmd)

    def _record_withdraw(self, cmd: Withdrawal) -> CaseView:
        self.facts.withdrawal = cmd
        moved_on = self._moved_on(cmd.withdrawn_on)
        return self._applied(EventKind.WITHDRAWN, cmd.withdrawn_on, cmd.entered_by, **moved_on)

    @withdraw.validator
    def _validate_withdraw(self, cmd: Withdrawal) -> None:
        self._check(case_evaluation.check_withdrawal, cmd)

    def _moved_on(self, on: date) -> dict[str, str]:
        """The case moved on (final plan issued, or closed) while advice was outstanding:
        close those requests as ``case_moved_on`` so chasing stops and the team's list
        drops them. Returns the audit detail naming them."""
        if not workflow.patched(MOVED_ON_PATCH):
            return {}
        moved = []
        for request in self.facts.advice_requests:
            if request.open:
                request.outcome = AdviceOutcome.CASE_MOVED_ON
                request.outcome_on = on
                moved.append(request.id)
        return {"advice_moved_on": ",".join(moved)} if moved else {}

    # --- corrections ---------------------------------------------------------------------

    @workflow.update
    @_reply_once_projected
    def correct(self, cmd: Correction) -> CaseView:
        """Correct a recorded event's dates or codes; the original stays in the trail (the
        ``corrected`` event names it) and every limit is evaluated again."""
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        # In place: the chasing loop may hold this state's advice requests across an await.
        _, _, on, detail = corrections.corrected(self.facts, cmd, in_place=True)
        self._reopened_if_open()
        return self._applied(corrections.CORRECTED, on, cmd.entered_by, **detail)

    @correct.validator
    def _validate_correct(self, cmd: Correction) -> None:
        self._check(corrections.check_correction, cmd)

    @workflow.update
    @_reply_once_projected
    def reopen(self, cmd: Reopen) -> CaseView:
        """Undo a withdrawal or a refusal to assess entered by mistake."""
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        _, undone = corrections.reopened(self.facts, in_place=True)
        self._reopened_if_open()
        return self._applied(
            corrections.REOPENED,
            london_date(workflow.now()),
            cmd.entered_by,
            undoes=str(undone.seq),
            event_kind=undone.kind,
        )

    @reopen.validator
    def _validate_reopen(self, cmd: Reopen) -> None:
        self._check(lambda facts, _cmd, today: corrections.check_reopen(facts, today), cmd)

    def _reopened_if_open(self) -> None:
        if case_evaluation.stage(self.facts) not in TERMINAL_STAGES:
            self.facts.closed_at = None

    @workflow.update
    @_reply_once_projected
    def child_changed(self, cmd: ChildChanged) -> CaseView:
        """The child's details were changed in the store: record who and when (the field
        names only; the values stay in the store)."""
        self._adopt_reading()
        if self._duplicate():
            return self.case_view()
        return self._applied(
            EventKind.CHILD_DETAILS_CHANGED,
            london_date(workflow.now()),
            cmd.entered_by,
            fields=",".join(cmd.fields),
        )
