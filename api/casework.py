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
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
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
from ehc.models import AssessmentInput, CaseView
from ehc.store import case_refs
from ehc.store.tables import ChildRow
from workflows.assessment import AssessmentWorkflow, workflow_id

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
# A failed create asks once more whether its workflow exists: 8 s + 1.5 s stays under 10 s.
EXISTS_CHECK_SECONDS = 1.5
# When the current request's budget for Temporal runs out (event-loop time); None: no
# request set one, so each call gets the default deadline.
_budget_ends: ContextVar[float | None] = ContextVar("temporal_budget_ends", default=None)
_RETRYABLE = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.INTERNAL,
)


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


async def open_case(client: Client, case: AssessmentInput, task_queue: str) -> CaseView:
    """Start the case's workflow, or find the running one, and return the case view in one
    round trip (update-with-start). A closed case is never restarted: it is read instead."""
    start = WithStartWorkflowOperation(
        AssessmentWorkflow.run,
        case,
        id=workflow_id(case.case_ref),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    _retrieve_start_error(start)
    try:
        result: CaseView = await bounded(
            client.execute_update_with_start_workflow(
                AssessmentWorkflow.opened,
                start_workflow_operation=start,
                rpc_timeout=rpc_timeout(),
            )
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise UNAVAILABLE from None
    except RPCError as exc:
        if exc.status in _RETRYABLE:
            raise SERVICE_DOWN from None
        return await view(client, case.case_ref)

    except WorkflowAlreadyStartedError:
        return await view(client, case.case_ref)
    return result


def _retrieve_start_error(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """A start cut short by our deadline leaves its error on the operation's handle; read
    it when it comes, so asyncio does not report an exception that was never retrieved."""
    handle = getattr(start, "_workflow_handle", None)
    if isinstance(handle, asyncio.Future):
        handle.add_done_callback(lambda done: done.cancelled() or done.exception())


async def open_case_whole(
    client: Client,
    session: AsyncSession,
    case: AssessmentInput,
    task_queue: str,
    *,
    created: bool,
) -> CaseView:
    """``open_case``, never leaving half a case: when the workflow could not be started,
    the child's row this request created is removed again, unless Temporal shows the
    workflow exists after all (then a retry with the same body converges on it)."""
    try:
        return await open_case(client, case, task_queue)
    except ApiError as failed:
        if created and failed.status == 503 and not await _exists(client, case.case_ref):
            await session.execute(delete(ChildRow).where(ChildRow.case_ref == case.case_ref))
            await session.commit()
            raise unavailable(
                "The workflow service did not answer, so nothing was recorded; "
                "send the same request again in a few seconds."
            ) from None
        raise


async def refuse_case_ref_variant(session: AsyncSession, case_ref: str) -> None:
    """409 if a case exists under ``case_ref`` in other letter case (refs are one-to-one
    with cases whatever the case of their letters)."""
    if await case_refs.same_ref_other_case(session, case_ref=case_ref) is not None:
        raise ApiError(
            409,
            "case_ref_taken",
            "That case reference is already used (in other capital or small letters) "
            "for a different request.",
        )


async def _exists(client: Client, case_ref: str) -> bool:
    """True if the case's workflow exists; False if it does not or Temporal cannot say."""
    try:
        async with asyncio.timeout(EXISTS_CHECK_SECONDS):
            await handle(client, case_ref).describe(
                rpc_timeout=timedelta(seconds=EXISTS_CHECK_SECONDS)
            )
    except (RPCError, TimeoutError):
        return False
    except (TypeError, ValueError):
        return True  # it exists; some servers send search attributes it cannot decode
    return True


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
