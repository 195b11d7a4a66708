"""Advice requests addressed by their own id: the team's view, its submission, and the
caseworker's outcomes (received by email, returned for quality, nil return, withdrawn).

A team user sees only its own team's requests; anything else is 404, as if it did not
exist.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api import temporal_gateway
from api.deps import ClientDep, SessionDep, TodayDep, require
from api.errors import ApiError
from api.schemas import AdviceReceivedBody, Body
from ehc.advice_templates import problems
from ehc.directory import Directory
from ehc.models import (
    AdviceOutcomeCommand,
    AdviceReceived,
    AdviceRequestRecord,
    CaseView,
    Role,
    User,
)
from ehc.statutory import Agency
from ehc.store import advice_requests, repository
from ehc.store.advice_requests import AdviceListStatus
from workflows.assessment import AssessmentWorkflow

router = APIRouter(prefix="/advice-requests", tags=["advice"])

Caseworker = Annotated[User, Depends(require(Role.CASEWORKER, Role.ADMIN))]
Anyone = Annotated[User, Depends(require(Role.CASEWORKER, Role.MANAGER, Role.ADMIN, Role.TEAM))]
TeamOrCaseworker = Annotated[User, Depends(require(Role.CASEWORKER, Role.ADMIN, Role.TEAM))]
NOT_FOUND = ApiError(404, "not_found", "No advice request was found with that id.")


class AdviceRequestOut(AdviceRequestRecord):
    """An advice request as the API answers it: the store's record, field for field."""


class TeamRequestOut(AdviceRequestOut):
    child: dict[str, Any] | None = Field(
        default=None, description="Only what identifies the child: names and date of birth"
    )


class SubmissionBody(Body):
    submitted_on: date
    sections: dict[str, Any]


class ReturnBody(Body):
    returned_on: date
    reasons: str = Field(min_length=1, max_length=4000)


class NilReturnBody(Body):
    on: date
    reason: str = Field(default="not known to the service", max_length=2000)


class WithdrawBody(Body):
    withdrawn_on: date
    reason: str = Field(min_length=1, max_length=2000)


def _out(row: AdviceRequestRecord) -> dict[str, Any]:
    return row.model_dump()


async def _visible(session: SessionDep, advice_id: str, user: User) -> AdviceRequestRecord:
    row = await advice_requests.advice_request(session, advice_id=advice_id)
    if row is None or (user.role == Role.TEAM and row.team != user.team):
        raise NOT_FOUND
    return row


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


@router.get("", response_model=list[AdviceRequestOut], summary="Advice requests")
async def list_requests(
    user: Anyone,
    session: SessionDep,
    today: TodayDep,
    mine: bool = False,
    team: Annotated[str | None, Query(max_length=80)] = None,
    agency: Agency | None = None,
    status: Annotated[
        AdviceListStatus | None,
        Query(
            description="pending (open, not yet due), overdue (open, past due) or received "
            "(received or a nil return); default: every open request"
        ),
    ] = None,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[dict[str, Any]]:
    """A team user lists its own open requests (`?mine=true`). Caseworkers and managers
    list requests across every team, soonest due first, filtered by agency, team, status
    and due window. Requests closed because the case moved on are not listed as open."""
    if user.role == Role.TEAM:
        if not mine:
            raise ApiError(400, "mine_required", "Team users list their requests with ?mine=true.")
        assert user.team is not None
        return [_out(r) for r in await advice_requests.team_requests(session, team=user.team)]
    rows = await advice_requests.staff_requests(
        session,
        today=today,
        agency=agency.value if agency else None,
        team=team,
        status=status,
        due_within_days=due_within_days,
        limit=page_size,
    )
    return [_out(r) for r in rows]


@router.get("/{advice_id}", response_model=TeamRequestOut, summary="One advice request")
async def get_request(advice_id: str, user: Anyone, session: SessionDep) -> dict[str, Any]:
    row = await _visible(session, advice_id, user)
    child = await repository.get_child(session, case_ref=row.case_ref)
    identity = (
        {
            "given_name": child.given_name,
            "family_name": child.family_name,
            "date_of_birth": child.date_of_birth.isoformat(),
        }
        if child
        else None
    )
    return {**_out(row), "child": identity}


def _for(user: User, view: CaseView, advice_id: str) -> CaseView | dict[str, Any]:
    """What an outcome answers: a team sees only its own request, never the case."""
    if user.role != Role.TEAM:
        return view
    advice = next(a for a in view.advice_requests if a.id == advice_id)
    return {**advice.model_dump(mode="json"), "case_ref": view.case_ref}


@router.post(
    "/{advice_id}/submission",
    response_model=CaseView | AdviceRequestOut,
    summary="A team submits its contribution; it is checked against the agreed template",
    responses={422: {"description": "A missing input: every missing or invalid section"}},
)
async def submit(
    advice_id: str,
    body: SubmissionBody,
    user: TeamOrCaseworker,
    session: SessionDep,
    client: ClientDep,
    request: Request,
    today: TodayDep,
) -> CaseView | dict[str, Any]:
    """A team token gets its own request back; a caseworker gets the case."""
    row = await _visible(session, advice_id, user)
    view, _ = await record_submission(
        row,
        body,
        entered_by=str(user.id),
        session=session,
        client=client,
        request=request,
        today=today,
    )
    return _for(user, view, advice_id)


async def record_submission(
    row: AdviceRequestRecord,
    body: SubmissionBody,
    *,
    entered_by: str,
    session: SessionDep,
    client: ClientDep,
    request: Request,
    today: date,
) -> tuple[CaseView, int]:
    """The one path every submission takes (the API and the team portal's form): checked
    against the agency's agreed template, stored either way, and on success recorded on
    the case (with the stored submission's id). A missing input is
    ``ApiError(422, "missing_input")`` with every problem."""
    advice_id = row.id
    agency = Agency(row.agency)
    found = problems(_directory(request).template(agency), body.sections)
    if body.submitted_on > today:
        raise ApiError(422, "date_in_future", "submitted_on is in the future.")
    submission_id = await advice_requests.save_submission(
        session,
        advice_id=advice_id,
        agency=agency.value,
        team=row.team,
        submitted_on=body.submitted_on,
        accepted=not found,
        problems=found,
        sections=body.sections,
        entered_by=entered_by,
        entered_at=request.app.state.clock(),
        key=temporal_gateway.update_id(f"submission-{advice_id}", body, None),
    )
    await session.commit()
    if found:
        raise ApiError(422, "missing_input", " ".join(found), problems=found)
    command = AdviceReceived(
        advice_id=advice_id, received_on=body.submitted_on, entered_by=entered_by
    )
    try:
        view = await temporal_gateway.update(
            client,
            row.case_ref,
            AssessmentWorkflow.advice_received,
            command,
            update_key=temporal_gateway.update_id(f"submission-{advice_id}", body, None),
        )
        return view, submission_id
    except ApiError as refused:
        if refused.status >= 500:
            raise  # not refused: the case may still record it (a retry is stored once)
        # The contribution is kept either way; the record says the case did not take it.
        await advice_requests.refuse_submission(
            session, submission_id=submission_id, reason=refused.detail
        )
        await session.commit()
        raise


@router.post(
    "/{advice_id}/received",
    response_model=CaseView,
    summary="Record advice that arrived by email or post",
)
async def advice_received(
    advice_id: str, body: AdviceReceivedBody, user: Caseworker, client: ClientDep
) -> CaseView:
    case_ref = _case_ref(advice_id)
    command = AdviceReceived(
        advice_id=advice_id, received_on=body.received_on, entered_by=str(user.id)
    )
    return await temporal_gateway.update(
        client,
        case_ref,
        AssessmentWorkflow.advice_received,
        command,
        update_key=temporal_gateway.update_id(f"advice-received-{advice_id}", body, None),
    )


def _case_ref(advice_id: str) -> str:
    case_ref = temporal_gateway.case_ref_of_advice(advice_id)
    if case_ref is None:
        raise NOT_FOUND
    return case_ref


async def _outcome(
    advice_id: str,
    outcome: str,
    on: date,
    text: str,
    user: User,
    session: SessionDep,
    client: ClientDep,
    body: BaseModel,
) -> CaseView:
    case_ref = _case_ref(advice_id)
    command = AdviceOutcomeCommand.model_validate(
        {"advice_id": advice_id, "outcome": outcome, "on": on, "entered_by": str(user.id)}
    )
    key = temporal_gateway.update_id(f"{outcome}-{advice_id}", body, None)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.advice_outcome, command, update_key=key
    )
    await repository.save_note(session, key=key, case_ref=case_ref, text=text)
    await session.commit()
    return view


@router.post(
    "/{advice_id}/return",
    response_model=CaseView,
    summary="Return a contribution for quality (the original due date stands)",
)
async def return_for_quality(
    advice_id: str, body: ReturnBody, user: Caseworker, session: SessionDep, client: ClientDep
) -> CaseView:
    return await _outcome(
        advice_id,
        "returned_for_quality",
        body.returned_on,
        body.reasons,
        user,
        session,
        client,
        body,
    )


@router.post(
    "/{advice_id}/nil-return",
    response_model=CaseView | AdviceRequestOut,
    summary="The child is not known to the service: a valid nil return",
)
async def nil_return(
    advice_id: str,
    body: NilReturnBody,
    user: TeamOrCaseworker,
    session: SessionDep,
    client: ClientDep,
) -> CaseView | dict[str, Any]:
    """A team token gets its own request back; a caseworker gets the case."""
    if user.role == Role.TEAM:
        await _visible(session, advice_id, user)
        await session.rollback()  # hold nothing while the case's workflow is asked
    view = await _outcome(
        advice_id, "not_known_to_service", body.on, body.reason, user, session, client, body
    )
    return _for(user, view, advice_id)


@router.post(
    "/{advice_id}/withdrawal",
    response_model=CaseView,
    summary="Withdraw an advice request (its limit no longer applies)",
)
async def withdraw(
    advice_id: str, body: WithdrawBody, user: Caseworker, session: SessionDep, client: ClientDep
) -> CaseView:
    return await _outcome(
        advice_id, "withdrawn", body.withdrawn_on, body.reason, user, session, client, body
    )


class NoticeOut(BaseModel):
    key: str
    kind: str
    rung: int
    recipient: str
    channel: str
    status: str
    attempts: int
    first_attempt_at: datetime
    sent_at: datetime | None


@router.get(
    "/{advice_id}/notices",
    response_model=list[NoticeOut],
    summary="What was sent to chase this request, and when",
)
async def notices(
    advice_id: str,
    user: Annotated[User, Depends(require(Role.CASEWORKER, Role.MANAGER, Role.ADMIN))],
    session: SessionDep,
) -> list[NoticeOut]:
    rows = await advice_requests.list_notices(session, advice_id=advice_id)
    return [NoticeOut.model_validate(r, from_attributes=True) for r in rows]
