"""One durable workflow per advice request, id ``advice-{advice_id}``: it chases.

It owns the request's reminder and escalation schedule (``ehc.chasing``): it sleeps on a
durable timer until each notice falls due (09:00 in England), sends it through an activity
whose key makes it go out once, and stops when the assessment tells it the advice arrived,
was a nil return, was withdrawn, or the case closed. A return for quality starts a new
cycle of this workflow (``cycle`` > 0): it sends the return notice at once, then chases on
against the original due date.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from ehc import chasing
    from ehc.chasing import NoticeKind, PlannedNotice
    from ehc.models import CLOSED_ADVICE, AdviceInput, AdviceOutcome, AdviceState, NoticeInput
    from ehc.statutory import end_of_london_day, london_date
    from ehc.workdays import ENGLAND_BANK_HOLIDAYS
    from workflows.notice_retry import FIRST_BACKOFF, SEND_RETRY, failed_for_good, next_backoff

# Rules.md 8.5: notices on working days in England. Chasers started before keep the
# calendar schedule so that their histories replay.
WORKING_DAYS_PATCH = "notices-on-working-days"

NOTICE_HOUR = timedelta(hours=9)
BACKDATED_PATCH = "advice-backdated-request-first"


def advice_workflow_id(advice_id: str) -> str:
    return f"advice-{advice_id}"


def first_notices(plan: list[PlannedNotice], today: date) -> list[PlannedNotice]:
    """What a request goes out with on the day it is entered, however late: the request
    itself, the overdue notice when it is already overdue, and only the escalation rung
    due now (none of the reminders that are past)."""
    past = [n for n in plan if n.on <= today]
    first = [n for n in past if n.kind in (NoticeKind.REQUEST, NoticeKind.OVERDUE)]
    escalations = [n for n in past if n.kind is NoticeKind.ESCALATION]
    if escalations:
        first.append(escalations[-1])
    first += [n for n in past if n.on == today and n not in first and n.kind in _TODAY_ONLY]
    return sorted(first, key=lambda n: n.seq)


_TODAY_ONLY = (NoticeKind.REMINDER, NoticeKind.DUE_TODAY)


def send_time(notice: PlannedNotice) -> datetime:
    """09:00 in England on the notice's date."""
    return end_of_london_day(notice.on - timedelta(days=1)) + NOTICE_HOUR


@workflow.defn(name="AdviceRequest")
class AdviceRequestWorkflow:
    @workflow.init
    def __init__(self, request: AdviceInput) -> None:
        self.request = request
        self.outcome: AdviceOutcome | str = AdviceOutcome.OUTSTANDING
        self.changes = 0
        self.sent: list[int] = []

    @workflow.signal
    def set_outcome(self, state: AdviceState) -> None:
        """Kept trivial: an error in a signal handler would fail the workflow."""
        self.outcome = state.outcome
        self.changes += 1

    @workflow.query
    def notices_sent(self) -> list[int]:
        return list(self.sent)

    def _closed(self) -> bool:
        return self.outcome in CLOSED_ADVICE or self.outcome == "case_closed"

    @workflow.run
    async def run(self, request: AdviceInput) -> list[int]:
        plan = chasing.schedule(
            requested_on=request.requested_on,
            due_on=request.due_on,
            policy=request.policy,
            ladder_rungs=request.ladder_rungs,
            holidays=ENGLAND_BANK_HOLIDAYS if workflow.patched(WORKING_DAYS_PATCH) else None,
        )
        today = london_date(workflow.now())
        if workflow.patched(BACKDATED_PATCH):
            first = first_notices(plan, today)
        else:
            first = chasing.due_now(plan, today)
        if request.cycle and not request.resumed:
            first = [
                PlannedNotice(
                    seq=1000 + request.cycle, kind=NoticeKind.RETURNED_FOR_QUALITY, on=today
                )
            ]
        for notice in first:
            await self._send(notice)
        for notice in chasing.still_to_come(plan, today):
            if not await self._wait_for(send_time(notice)):
                break
            await self._send(notice)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.sent

    async def _wait_for(self, at: datetime) -> bool:
        """Sleep until ``at``; ``False`` if chasing should stop first."""
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._closed, timeout=remaining)
        return not self._closed()

    async def _send(self, notice: PlannedNotice) -> None:
        r = self.request
        notice_input = NoticeInput(
            key=f"{r.advice_id}:{notice.seq}:{notice.kind.value}",
            advice_id=r.advice_id,
            case_ref=r.case_ref,
            agency=r.agency,
            team=r.team,
            kind=notice.kind.value,
            seq=notice.seq,
            rung=notice.rung,
            on=notice.on,
            due_on=r.due_on,
        )
        backoff = FIRST_BACKOFF
        while True:
            try:
                await workflow.execute_activity_method(
                    NotificationActivities.queue_notice
                    if self.request.policy.digest
                    else NotificationActivities.send_notice,
                    notice_input,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=SEND_RETRY,
                )
            except ActivityError as err:
                if failed_for_good(err) or self._closed():
                    workflow.logger.warning("notice_not_sent", extra={"seq": notice.seq})
                    return
                await self._wait_for(workflow.now() + backoff)
                backoff = next_backoff(backoff)
                continue
            self.sent.append(notice.seq)
            return
