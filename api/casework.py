"""The API's gateway to the assessment workflows: start, update, query, map refusals.

A refusal from a workflow's update validator becomes an ``ApiError`` carrying the
validator's code, status and sentence; Temporal's own errors become 404 or 409.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
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

from api.errors import ApiError
from ehc.models import AssessmentInput, CaseView
from workflows.assessment import AssessmentWorkflow, workflow_id

Command = TypeVar("Command", bound=BaseModel)

NO_CASE = ApiError(404, "not_found", "No assessment was found with that case reference.")
UNAVAILABLE = ApiError(
    503,
    "unavailable",
    "The case did not answer in time; nothing may have been recorded. "
    "Retry with the same Idempotency-Key.",
)
RPC_TIMEOUT = timedelta(seconds=30)


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
    try:
        result: CaseView = await client.execute_update_with_start_workflow(
            AssessmentWorkflow.opened, start_workflow_operation=start, rpc_timeout=RPC_TIMEOUT
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise UNAVAILABLE from None
    except (WorkflowAlreadyStartedError, RPCError):
        return await view(client, case.case_ref)
    return result


def case_ref_of_advice(advice_id: str) -> str | None:
    """Advice request ids are ``{case_ref}-adv{n}`` (assigned by the workflow)."""
    case_ref, sep, number = advice_id.rpartition("-adv")
    return case_ref if sep and case_ref and number.isdigit() else None


def handle(client: Client, case_ref: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id(case_ref))


async def view(client: Client, case_ref: str) -> CaseView:
    try:
        result: CaseView = await handle(client, case_ref).query(
            AssessmentWorkflow.case_view, rpc_timeout=RPC_TIMEOUT
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise NO_CASE from None
        raise
    except WorkflowQueryFailedError as exc:
        raise ApiError(503, "unavailable", "The case could not be read; try again.") from exc
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
        result = await handle(client, case_ref).execute_update(
            method, command, id=update_key, rpc_timeout=RPC_TIMEOUT
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
        return ApiError(503, "unavailable", "The workflow service did not answer; try again.")
    try:
        await handle(client, case_ref).describe()
    except RPCError as describe_error:
        if describe_error.status is RPCStatusCode.NOT_FOUND:
            return NoWorkflow(case_ref)
    except (TypeError, ValueError):
        pass  # the execution exists; some servers send search attributes it cannot decode
    return ApiError(409, "case_closed", "This case is closed; nothing more can be recorded.")
