"""Advice requests addressed by their own id."""

from __future__ import annotations

from fastapi import APIRouter

from api import casework
from api.deps import ClientDep, Writer
from api.errors import ApiError
from api.schemas import AdviceReceivedBody
from ehc.models import AdviceReceived, CaseView
from workflows.assessment import AssessmentWorkflow

router = APIRouter(prefix="/advice-requests", tags=["advice"])


@router.post(
    "/{advice_id}/received",
    response_model=CaseView,
    summary="Record advice that arrived by email or post",
)
async def advice_received(
    advice_id: str, body: AdviceReceivedBody, user: Writer, client: ClientDep
) -> CaseView:
    case_ref = casework.case_ref_of_advice(advice_id)
    if case_ref is None:
        raise ApiError(404, "not_found", "No advice request was found with that id.")
    command = AdviceReceived(advice_id=advice_id, received_on=body.received_on,
                             entered_by=str(user.id))
    return await casework.update(
        client, case_ref, AssessmentWorkflow.advice_received, command,
        update_key=casework.update_id(f"advice-received-{advice_id}", body, None),
    )
