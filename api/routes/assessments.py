"""Assessments: start a case, record what happened, read it, and the caseworker's queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import BaseModel

from api import casework
from api.deps import ClientDep, NowDep, Reader, SessionDep, SettingsDep, TodayDep, Writer
from api.errors import ApiError
from api.schemas import (
    AdviceRequestBody,
    CaseResponse,
    CreateAssessment,
    DecisionToAssessBody,
    DecisionToIssueBody,
    DraftPlanBody,
    ExceptionBody,
    FinalPlanBody,
    WithdrawalBody,
)
from ehc.chasing import ChasingPolicy
from ehc.directory import Directory
from ehc.models import (
    AdviceRequestCommand,
    AssessmentInput,
    CaseView,
    ClosureDates,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    ExceptionCommand,
    FinalPlan,
    QueueItem,
    Stage,
    User,
    Withdrawal,
)
from ehc.statutory import NoRuleVersion, rule_version
from ehc.store import chasing_repository as chasing
from ehc.store import repository
from workflows.assessment import AssessmentWorkflow

router = APIRouter(prefix="/assessments", tags=["assessments"])
IdempotencyKey = Annotated[
    str | None,
    Header(description="Send the same key when retrying; the event is recorded once."),
]


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseResponse,
    summary="Record a request for an EHC needs assessment (starts the statutory clock)",
)
async def create_assessment(
    body: CreateAssessment,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    now: NowDep,
    response: Response,
) -> CaseResponse:
    _check_day0(body, today)
    outcome = await repository.save_child(
        session, case_ref=body.case_ref, child=body.child, fingerprint=casework.fingerprint(body)
    )
    if outcome == "conflict":
        raise ApiError(
            409, "case_ref_taken", "That case reference is already used for a different request."
        )
    case = AssessmentInput(
        case_ref=body.case_ref,
        received_on=body.received_on,
        anchor=body.anchor,
        requested_by=body.requested_by,
        entered_by=str(user.id),
        at_risk_days=settings.at_risk_days,
        close_grace_days=settings.case_close_grace_days,
    )
    # open_case commits the child with the case's first rows, then starts the workflow.
    view = await casework.open_case(
        client,
        session,
        case,
        settings.temporal_task_queue,
        now=now,
        new=outcome == "created",
    )
    if outcome == "same":
        response.status_code = status.HTTP_200_OK
    return CaseResponse(**view.model_dump(), child=body.child)


def _check_day0(body: CreateAssessment, today: Any) -> None:
    if body.received_on > today:
        raise ApiError(422, "date_in_future", "received_on is in the future.")
    try:
        rule_version(body.received_on)
    except NoRuleVersion as exc:
        raise ApiError(422, "before_regulations", str(exc)) from exc


@router.get("", response_model=QueuePage, summary="The caseworker's queue, soonest due first")
async def list_assessments(
    user: Reader,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    stage: Stage | None = None,
    status_: Annotated[
        Literal["breached", "at_risk", "pending"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    cursor: str | None = None,
) -> QueuePage:
    try:
        items, next_cursor = await repository.list_queue(
            session,
            today=today,
            at_risk_days=settings.at_risk_days,
            stage=stage.value if stage else None,
            status=status_,
            due_within_days=due_within_days,
            limit=limit,
            cursor=cursor,
        )
    except ValueError as exc:
        raise ApiError(
            400, "bad_cursor", "That cursor is not valid; start from the first page."
        ) from exc
    return QueuePage(items=items, next_cursor=next_cursor)


@router.get("/{case_ref}", response_model=CaseResponse, summary="Where a case stands")
async def get_assessment(
    case_ref: str, user: Reader, client: ClientDep, session: SessionDep
) -> CaseResponse:
    view = await casework.view(client, case_ref)
    child = await repository.get_child(session, case_ref=case_ref)
    return CaseResponse(**view.model_dump(), child=child)


@router.post("/{case_ref}/decision-to-assess", response_model=CaseView)
async def decision_to_assess(
    case_ref: str,
    body: DecisionToAssessBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = DecisionToAssess(**body.model_dump(), entered_by=str(user.id))
    return await casework.update(
        client,
        case_ref,
        AssessmentWorkflow.decision_to_assess,
        command,
        update_key=casework.update_id("decision-to-assess", body, idempotency_key),
    )


@router.post(
    "/{case_ref}/advice-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Record that advice was requested (starts that adviser's 6-week clock)",
)
async def request_advice(
    case_ref: str,
    body: AdviceRequestBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    team, policy, rungs = await _chasing_for(request, session, body)
    command = AdviceRequestCommand(
        agency=body.agency,
        requested_on=body.requested_on,
        received_on=body.received_on,
        team=team,
        policy=policy,
        ladder_rungs=rungs,
        entered_by=str(user.id),
    )
    key = casework.update_id("advice-request", body, idempotency_key)
    view = await casework.update(
        client, case_ref, AssessmentWorkflow.request_advice, command, update_key=key
    )
    advice = _advice_for(view, key)
    return {**advice, "case": view.model_dump(mode="json")}


async def _chasing_for(
    request: Request, session: SessionDep, body: AdviceRequestBody
) -> tuple[str | None, ChasingPolicy, int]:
    """The team to chase (named, or the agency's default), its policy and ladder height."""
    directory: Directory = request.app.state.directory
    config = directory.agency(body.agency)
    team_id = body.team or config.default_team
    if team_id is None:
        return None, config.policy, 0
    team = await chasing.get_team(session, team_id=team_id)
    await session.rollback()  # hold nothing while the update waits on Temporal
    if team is None or team.agency is not body.agency:
        raise ApiError(
            422,
            "unknown_team",
            f"There is no {body.agency.value} team '{team_id}' in the team directory.",
        )
    return team.id, config.policy, len(team.ladder)


def _advice_for(view: CaseView, key: str) -> dict[str, Any]:
    """The advice request this update created, found through its audit event."""
    ids = [e.detail["advice_id"] for e in view.events if e.detail.get("update_id") == key]
    advice = next(a for a in view.advice_requests if a.id in ids)
    return advice.model_dump(mode="json")


@router.post(
    "/{case_ref}/exceptions",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseView,
    summary="Record a lawful exception on a limit (refused with the rule that forbids it)",
)
async def record_exception(
    case_ref: str,
    body: ExceptionBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    institution = body.institution
    command = ExceptionCommand(
        limit=body.limit,
        kind=body.kind,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        advice_id=body.advice_id,
        closure=ClosureDates(
            closed_on=institution.closed_on,
            reopens_on=institution.reopens_on,
            advice_requested_on=institution.advice_requested_on,
        )
        if institution
        else None,
        entered_by=str(user.id),
    )
    key = casework.update_id("exception", body, idempotency_key)
    view = await casework.update(
        client, case_ref, AssessmentWorkflow.record_exception, command, update_key=key
    )
    text = body.reason if institution is None else f"{body.reason}\nInstitution: {institution.name}"
    await repository.save_note(session, key=key, case_ref=case_ref, text=text)
    await session.commit()
    return view


@router.post("/{case_ref}/decision-to-issue", response_model=CaseView)
async def decision_to_issue(
    case_ref: str,
    body: DecisionToIssueBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = DecisionToIssue(**body.model_dump(), entered_by=str(user.id))
    return await casework.update(
        client,
        case_ref,
        AssessmentWorkflow.decision_to_issue,
        command,
        update_key=casework.update_id("decision-to-issue", body, idempotency_key),
    )


@router.post("/{case_ref}/draft-plan", response_model=CaseView)
async def draft_plan(
    case_ref: str,
    body: DraftPlanBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = DraftPlan(**body.model_dump(), entered_by=str(user.id))
    return await casework.update(
        client,
        case_ref,
        AssessmentWorkflow.draft_plan,
        command,
        update_key=casework.update_id("draft-plan", body, idempotency_key),
    )


@router.post("/{case_ref}/final-plan", response_model=CaseView)
async def final_plan(
    case_ref: str,
    body: FinalPlanBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = FinalPlan(**body.model_dump(), entered_by=str(user.id))
    return await casework.update(
        client,
        case_ref,
        AssessmentWorkflow.final_plan,
        command,
        update_key=casework.update_id("final-plan", body, idempotency_key),
    )


@router.post("/{case_ref}/withdrawal", response_model=CaseView)
async def withdrawal(
    case_ref: str,
    body: WithdrawalBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = Withdrawal(withdrawn_on=body.withdrawn_on, entered_by=str(user.id))
    key = casework.update_id("withdrawal", body, idempotency_key)
    view = await casework.update(
        client, case_ref, AssessmentWorkflow.withdraw, command, update_key=key
    )
    await repository.save_note(session, key=key, case_ref=case_ref, text=body.reason)
    await session.commit()
    return view


__all__ = ["User", "router"]
