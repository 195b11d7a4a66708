"""The API's gateway to the assessment workflows: start, update, query, map refusals.

A refusal from a workflow's update validator becomes an ``ApiError`` carrying the
validator's code, status and sentence; Temporal's own errors become 404 or 409.

Every call to Temporal is bounded: a request has one budget (``temporal_deadline_seconds``,
8 s by default, set per request by ``api.guards``), and a server or worker that does not
answer within it gives 503 with ``Retry-After`` and a sentence, never a hang or a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.errors import ApiError, unavailable
from ehc import case_evaluation
from ehc.case_evaluation import CaseFacts
from ehc.models import AssessmentInput, CaseView, EventKind
from ehc.statutory import LimitStatus, london_date
from ehc.store import repository
from workflows.assessment import SYSTEM, AssessmentWorkflow, workflow_id

Command = TypeVar("Command", bound=BaseModel)
T = TypeVar("T")

NO_CASE = ApiError(404, "not_found", "No assessment was found with that case reference.")
UNAVAILABLE = unavailable(
    "The case did not answer in time; nothing may have been recorded. "
    "Retry with the same Idempotency-Key."
)
SERVICE_DOWN = unavailable(
    "The workflow service did not answer; nothing was recorded. Try again in a few seconds."
)
DEFAULT_DEADLINE_SECONDS = 8.0
# When the current request's budget for Temporal runs out (event-loop time); None: no
# request set one, so each call gets the default deadline.
_budget_ends: ContextVar[float | None] = ContextVar("temporal_budget_ends", default=None)


def start_budget(seconds: float) -> None:
    """Give the current request ``seconds`` for all its calls to Temporal together."""
    _budget_ends.set(asyncio.get_running_loop().time() + seconds)


def remaining() -> float:
    """Seconds left of the current request's budget (the default when none was set)."""
    ends = _budget_ends.get()
    if ends is None:
        return DEFAULT_DEADLINE_SECONDS
    return ends - asyncio.get_running_loop().time()


def rpc_timeout() -> timedelta:
    return timedelta(seconds=max(remaining(), 0.1))


async def bounded(call: Awaitable[T], *, on_timeout: ApiError = UNAVAILABLE) -> T:
    """Await a call to Temporal within the request's budget; 503 when it runs out."""
    seconds = remaining()
    if seconds <= 0:
        if asyncio.iscoroutine(call):
            call.close()
        raise on_timeout
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError:
        raise on_timeout from None


class NoWorkflow(ApiError):
    """Temporal holds no workflow for the case: never started, or deleted after closing
    (retention). ``api.stored_cases`` answers 409 when the store still holds the case."""

    def __init__(self, case_ref: str) -> None:
        super().__init__(NO_CASE.status, NO_CASE.error, NO_CASE.detail)
        self.case_ref = case_ref


def fingerprint(body: BaseModel) -> str:
    """A stable hash of a request body: same body, same key."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def update_id(kind: str, body: BaseModel, idempotency_key: str | None) -> str:
    """A retried HTTP call sends the same update id, so it is recorded once."""
    return f"{kind}:{idempotency_key or fingerprint(body)[:32]}"


# --- opening a case (issue 14: a start close to the engine's limit) ----------------------
#
# The order is the guarantee. 1) One store transaction writes the child, the case's first
# view and a ``pending_starts`` row (the workflow's input). 2) A plain ``start_workflow``
# (no wait for the worker). 3) The answer is the view computed by the same pure
# ``ehc.case_evaluation`` the workflow runs, so the caller does not wait for the worker's first
# task. A workflow without its child is impossible (the store commits first); a store row
# without its workflow (a crash between 1 and 2) is completed by the caller's retry (the
# same body starts it) or by ``sweep_pending_starts``, which the worker runs. The
# workflow's first projection deletes the pending row. Updates still wait for the
# workflow's answer (read-your-write): only the opening is answered by the API.

SWEEP_AFTER = timedelta(seconds=60)  # a start older than this with no projection is swept
START_NOT_CONFIRMED = unavailable(
    "The request was recorded but its statutory clock could not be started yet; it will "
    "start shortly. Send the same request again to check."
)


def opening_view(case: AssessmentInput, now: datetime) -> CaseView:
    """The view the workflow's first task computes for ``case`` at ``now``.

    Mirrors ``AssessmentWorkflow.__init__`` and its first ``_refresh``: the request
    received event, then a system event for each limit already missed (a backdated Day 0).
    """
    facts = CaseFacts(case=case)
    facts.reading = case_evaluation.CLOSER_READING
    facts.add_event(
        EventKind.REQUEST_RECEIVED,
        case.received_on,
        now,
        case.entered_by,
        anchor=case.anchor.value,
        requested_by=case.requested_by.value,
    )
    today = london_date(now)
    for limit in case_evaluation.evaluate(facts, today).limits:
        if limit.status in (LimitStatus.BREACHED, LimitStatus.EXCEPTION):
            key = case_evaluation.limit_key(limit)
            facts.recorded_statuses[key] = limit.status
            facts.add_event(
                EventKind(f"limit_{limit.status.value}"),
                limit.due_on + timedelta(days=1),
                now,
                SYSTEM,
                limit=key,
            )
        else:
            facts.recorded_statuses[case_evaluation.limit_key(limit)] = limit.status
    return case_evaluation.evaluate(facts, today)


async def start_assessment(client: Client, case: AssessmentInput, task_queue: str) -> None:
    """A plain start; a closed case is never restarted (``REJECT_DUPLICATE``)."""
    await client.start_workflow(
        AssessmentWorkflow.run,
        case,
        id=workflow_id(case.case_ref),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        rpc_timeout=rpc_timeout(),
    )


async def start_recorded(
    client: Client,
    session: AsyncSession,
    case: AssessmentInput,
    task_queue: str,
    *,
    opening: CaseView,
) -> CaseView:
    """Commit what ``session`` wrote of the case (``opening`` is its first view, as
    ``opening_view`` computes it), then start its workflow; answer with ``opening``."""
    await session.commit()  # 1) the store first
    try:
        # 2) then the workflow, within the request's budget (issue 16): a start that does
        # not answer in time is left to the caller's retry or the sweep, like a crash.
        await bounded(start_assessment(client, case, task_queue), on_timeout=START_NOT_CONFIRMED)
    except WorkflowAlreadyStartedError:
        return await view(client, case.case_ref)
    except RPCError:
        raise START_NOT_CONFIRMED from None  # recorded: a retry or the sweep starts it
    return opening  # 3) the same pure evaluation the workflow makes


async def sweep_pending_starts(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    *,
    now: datetime,
    older_than: timedelta = SWEEP_AFTER,
) -> int:
    """Start the workflow of every case recorded before ``now - older_than`` whose
    workflow never projected (a crash between the store write and the start). Returns
    how many starts it made; a workflow that already exists only loses its pending row."""
    started = 0
    async with sessions() as session:
        pending = await repository.pending_starts(session, older_than=now - older_than)
    for case_ref, start in pending:
        try:
            await start_assessment(client, AssessmentInput.model_validate(start), task_queue)
            started += 1
        except WorkflowAlreadyStartedError:
            async with sessions() as session, session.begin():
                await repository.clear_pending_start(session, case_ref=case_ref)
    return started


CASE_REF_VARIANT = ApiError(
    409,
    "case_ref_taken",
    "That case reference is already used (in other capital or small letters) "
    "for a different request.",
)
CASE_REF_TAKEN = ApiError(
    409, "case_ref_taken", "That case reference is already used for a different request."
)


def case_ref_of_advice(advice_id: str) -> str | None:
    """Advice request ids are ``{case_ref}-adv{n}`` (assigned by the workflow)."""
    case_ref, sep, number = advice_id.rpartition("-adv")
    return case_ref if sep and case_ref and number.isdigit() else None


def handle(client: Client, case_ref: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id(case_ref))


async def view(client: Client, case_ref: str) -> CaseView:
    cannot_read = unavailable("The case could not be read in time; try again in a few seconds.")
    try:
        result: CaseView = await bounded(
            handle(client, case_ref).query(AssessmentWorkflow.case_view, rpc_timeout=rpc_timeout()),
            on_timeout=cannot_read,
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NO_CASE from None
        raise cannot_read from None
    except WorkflowQueryFailedError as exc:
        raise cannot_read from exc
    return result


async def update(
    client: Client,
    case_ref: str,
    method: UpdateMethodMultiParam[[Any, Command], CaseView],
    command: Command,
    *,
    update_key: str,
) -> CaseView:
    """Send an update; a validator's refusal comes back as an ``ApiError``."""
    try:
        result = await bounded(
            handle(client, case_ref).execute_update(
                method, command, id=update_key, rpc_timeout=rpc_timeout()
            )
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise UNAVAILABLE from None
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc.cause) from None
    except RPCError as exc:
        raise await _rpc_error(client, case_ref, exc) from None
    return result


def refusal(cause: BaseException | None) -> ApiError:
    if isinstance(cause, ApplicationError):
        status = cause.details[0] if cause.details and isinstance(cause.details[0], int) else 422
        return ApiError(status, cause.type or "refused", cause.message)
    return ApiError(422, "refused", "The case could not accept this event.")


async def _rpc_error(client: Client, case_ref: str, exc: RPCError) -> ApiError:
    if exc.status is not RPCStatusCode.NOT_FOUND:
        return SERVICE_DOWN
    try:
        await bounded(handle(client, case_ref).describe(rpc_timeout=rpc_timeout()))
    except RPCError as describe_error:
        if describe_error.status is RPCStatusCode.NOT_FOUND:
            return NoWorkflow(case_ref)
        return SERVICE_DOWN
    except (TypeError, ValueError):
        pass  # the execution exists; some servers send search attributes it cannot decode
    return ApiError(409, "case_closed", "This case is closed; nothing more can be recorded.")
