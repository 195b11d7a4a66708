"""Assessments: start a case, record what happened, read it, and the caseworker's queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from pydantic import BaseModel, ValidationError

from api import temporal_gateway
from api.caseview import case_response
from api.deps import ClientDep, NowDep, Reader, SessionDep, SettingsDep, TodayDep, Writer
from api.errors import ApiError
from api.schemas import (
    AdviceRequestBody,
    AssigneeBody,
    CaseResponse,
    CorrectionBody,
    CreateAssessment,
    DecisionToAssessBody,
    DecisionToIssueBody,
    DraftPlanBody,
    ExceptionBody,
    FinalPlanBody,
    ReopenBody,
    WithdrawalBody,
)
from ehc.chasing import ChasingPolicy
from ehc.directory import Directory
from ehc.models import (
    AdviceRequestCommand,
    AssessmentInput,
    CaseView,
    ChildChanged,
    ClosureDates,
    Correction,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    EventKind,
    ExceptionCommand,
    FinalPlan,
    QueueItem,
    Reopen,
    Role,
    Stage,
    User,
    Withdrawal,
)
from ehc.statutory import NoRuleVersion, rule_version
from ehc.store import advice_requests, case_reads, repository
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
) -> Response:
    _check_day0(body, today)
    case = AssessmentInput(
        case_ref=body.case_ref,
        received_on=body.received_on,
        anchor=body.anchor,
        requested_by=body.requested_by,
        entered_by=str(user.id),
        at_risk_days=settings.at_risk_days,
        close_grace_days=settings.case_close_grace_days,
        opened_at=now,
    )
    opening = temporal_gateway.opening_view(case, now)
    # The child, the case's first rows and its pending start: one statement on PostgreSQL.
    outcome = await repository.open_new_case(
        session,
        child=body.child,
        fingerprint=temporal_gateway.fingerprint(body),
        view=opening,
        start=case.model_dump(mode="json"),
        at=now,
    )
    if outcome == "variant":
        raise temporal_gateway.CASE_REF_VARIANT
    if outcome == "conflict":
        raise temporal_gateway.CASE_REF_TAKEN
    if outcome == "same" and not await repository.is_pending_start(session, case_ref=body.case_ref):
        # A repeated request reads the case: a case is never started twice, even once
        # Temporal has deleted its closed workflow. (A case still pending its start goes on
        # to be started: a crash may have left it unmade.)
        stored = await case_reads.read_case(
            session, case_ref=body.case_ref, today=today, at_risk_days=settings.at_risk_days
        )
        await session.rollback()
        if stored is not None:
            return _answer(stored.view, body, status.HTTP_200_OK)
    # Commit, then start the workflow (a crash in between is completed by a retry or the
    # worker's sweep of pending starts).
    view = await temporal_gateway.start_recorded(
        client, session, case, settings.temporal_task_queue, opening=opening
    )
    return _answer(view, body, status.HTTP_200_OK if outcome == "same" else status.HTTP_201_CREATED)


def _answer(view: CaseView, body: CreateAssessment, status_code: int) -> Response:
    """The case as JSON, serialised once by pydantic: returning the model instead would
    have FastAPI dump, validate and serialise it again (docs/performance.md, Starts)."""
    answer = CaseResponse(**view.model_dump(), child=body.child)
    return Response(answer.model_dump_json(), status_code, media_type="application/json")


def _check_day0(body: CreateAssessment, today: Any) -> None:
    if body.received_on > today:
        raise ApiError(422, "date_in_future", "received_on is in the future.")
    try:
        rule_version(body.received_on)
    except NoRuleVersion as exc:
        raise ApiError(422, "before_regulations", str(exc)) from exc
    if problem := body.child_age_problem():
        raise ApiError(422, "implausible_date_of_birth", problem)


WorklistSort = Literal["urgency", "received_on", "case_ref"]


@router.get(
    "",
    response_model=QueuePage,
    summary="The caseworkers' worklist: open breaches first, then at risk, then soonest due",
)
async def list_assessments(
    user: Reader,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    stage: Stage | None = None,
    status_: Annotated[
        Literal["breached", "at_risk", "pending"] | None, Query(alias="status")
    ] = None,
    include_closed: Annotated[
        bool, Query(description="Also list withdrawn, refused and finished cases")
    ] = False,
    q: Annotated[
        str | None,
        Query(max_length=100, description="A child's name, a case reference or a UPN"),
    ] = None,
    sort: Annotated[
        WorklistSort,
        Query(
            description="urgency (open breaches longest overdue first, then at risk, then "
            "soonest due), received_on (oldest request first) or case_ref"
        ),
    ] = "urgency",
    mine: Annotated[bool, Query(description="Only the cases assigned to me")] = False,
    page_size: Annotated[int | None, Query(ge=1, le=500, description="Rows a page")] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=500, deprecated=True, description="Use page_size")
    ] = None,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    cursor: str | None = None,
) -> QueuePage:
    try:
        items, next_cursor = await repository.worklist(
            session,
            today=today,
            at_risk_days=settings.at_risk_days,
            include_closed=include_closed,
            stage=stage.value if stage else None,
            status=status_,
            due_within_days=due_within_days,
            q=q,
            assignee_id=user.id if mine else None,
            sort=sort,
            page_size=page_size or limit or 50,
            cursor=cursor,
        )
    except repository.InvalidCursor as exc:
        raise ApiError(
            400, "bad_cursor", "That cursor is not valid; start from the first page."
        ) from exc
    return QueuePage(items=items, next_cursor=next_cursor)


@router.get("/{case_ref}", response_model=CaseResponse, summary="Where a case stands")
async def get_assessment(
    case_ref: str,
    user: Reader,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> CaseResponse:
    """Read from the case store (the projection), so a closed case stays readable after
    Temporal has deleted its workflow and reads never wait on a worker. Only a case the
    store does not hold yet is asked of its workflow."""
    stored = await case_reads.read_case(
        session, case_ref=case_ref, today=today, at_risk_days=settings.at_risk_days
    )
    child = await repository.get_child(session, case_ref=case_ref)
    if stored is not None:
        return await case_response(session, stored.view, child=child, projection=stored.projection)
    await session.rollback()  # hold nothing while Temporal is asked
    view = await temporal_gateway.view(client, case_ref)
    return await case_response(
        session, view, child=child, projection=case_reads.Projection(source="workflow")
    )


@router.post("/{case_ref}/decision-to-assess", response_model=CaseView)
async def decision_to_assess(
    case_ref: str,
    body: DecisionToAssessBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = DecisionToAssess(**body.model_dump(), entered_by=str(user.id))
    return await temporal_gateway.update(
        client,
        case_ref,
        AssessmentWorkflow.decision_to_assess,
        command,
        update_key=temporal_gateway.update_id("decision-to-assess", body, idempotency_key),
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
    key = temporal_gateway.update_id("advice-request", body, idempotency_key)
    view = await temporal_gateway.update(
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
    team = await advice_requests.get_team(session, team_id=team_id)
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
    key = temporal_gateway.update_id("exception", body, idempotency_key)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.record_exception, command, update_key=key
    )
    text = body.reason if institution is None else f"{body.reason}\nInstitution: {institution.name}"
    await repository.save_note(session, key=key, case_ref=case_ref, text=text)
    await session.commit()
    return view


@router.post("/{case_ref}/decision-to-issue", response_model=CaseResponse)
async def decision_to_issue(
    case_ref: str,
    body: DecisionToIssueBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """A decision not to issue closes the case: outstanding advice is closed as
    ``case_moved_on`` and listed in ``warnings``."""
    command = DecisionToIssue(**body.model_dump(), entered_by=str(user.id))
    key = temporal_gateway.update_id("decision-to-issue", body, idempotency_key)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.decision_to_issue, command, update_key=key
    )
    return await case_response(session, view, warnings=_moved_on_warnings(view, key))


@router.post("/{case_ref}/draft-plan", response_model=CaseView)
async def draft_plan(
    case_ref: str,
    body: DraftPlanBody,
    user: Writer,
    client: ClientDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    command = DraftPlan(**body.model_dump(), entered_by=str(user.id))
    return await temporal_gateway.update(
        client,
        case_ref,
        AssessmentWorkflow.draft_plan,
        command,
        update_key=temporal_gateway.update_id("draft-plan", body, idempotency_key),
    )


@router.post("/{case_ref}/final-plan", response_model=CaseResponse)
async def final_plan(
    case_ref: str,
    body: FinalPlanBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """Issuing the final plan while advice is outstanding closes those requests as
    ``case_moved_on`` (chasing stops) and says so in ``warnings``."""
    command = FinalPlan(**body.model_dump(), entered_by=str(user.id))
    key = temporal_gateway.update_id("final-plan", body, idempotency_key)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.final_plan, command, update_key=key
    )
    return await case_response(session, view, warnings=_moved_on_warnings(view, key))


def _moved_on_warnings(view: CaseView, key: str) -> list[str]:
    """A sentence for each advice request this update closed as ``case_moved_on``."""
    event = next((e for e in view.events if e.detail.get("update_id") == key), None)
    moved = event.detail.get("advice_moved_on", "") if event else ""
    agencies = {a.id: a.agency.value for a in view.advice_requests}
    return [
        f"Advice from {agencies.get(advice_id, 'an adviser')} ({advice_id}) was still "
        "outstanding: it is now closed as case_moved_on and the team is no longer chased."
        for advice_id in filter(None, moved.split(","))
    ]


@router.post("/{case_ref}/withdrawal", response_model=CaseResponse)
async def withdrawal(
    case_ref: str,
    body: WithdrawalBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """Closes the case; outstanding advice is closed as ``case_moved_on`` (see
    ``warnings``). A withdrawal entered by mistake is undone with ``/reopen``."""
    command = Withdrawal(withdrawn_on=body.withdrawn_on, entered_by=str(user.id))
    key = temporal_gateway.update_id("withdrawal", body, idempotency_key)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.withdraw, command, update_key=key
    )
    await repository.save_note(session, key=key, case_ref=case_ref, text=body.reason)
    await session.commit()
    return await case_response(session, view, warnings=_moved_on_warnings(view, key))


# --- corrections, reopening, the child's details, assignment ------------------------------


@router.post(
    "/{case_ref}/corrections",
    response_model=CaseResponse,
    summary="Correct a recorded event's dates or codes (Day 0 included); audited",
    responses={409: {"description": "Refused, with the sentence the original would get"}},
)
async def correct(
    case_ref: str,
    body: CorrectionBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """The original event stays in the trail, marked ``superseded_by`` the correction,
    which records who, when, the old and new values; the reason is kept in the store.
    Every limit is evaluated again from the corrected facts."""
    changes = body.changes.model_dump(mode="json", exclude_none=True)
    if not changes:
        raise ApiError(422, "nothing_to_correct", "Send at least one field to change.")
    key = temporal_gateway.update_id("correction", body, idempotency_key)
    command = Correction(event_id=body.event_id, changes=changes, entered_by=str(user.id))
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.correct, command, update_key=key
    )
    await repository.save_note(session, key=key, case_ref=case_ref, text=body.reason)
    await session.commit()
    child = await repository.get_child(session, case_ref=case_ref)
    return await case_response(session, view, child=child)


@router.post(
    "/{case_ref}/reopen",
    response_model=CaseResponse,
    summary="Undo a withdrawal or a decision not to assess entered by mistake",
)
async def reopen(
    case_ref: str,
    body: ReopenBody,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """Only inside the case's grace period after closing. Advice requests the closing
    stopped are chased again."""
    key = temporal_gateway.update_id("reopen", body, idempotency_key)
    view = await temporal_gateway.update(
        client, case_ref, AssessmentWorkflow.reopen, Reopen(entered_by=str(user.id)), update_key=key
    )
    await repository.save_note(session, key=key, case_ref=case_ref, text=body.reason)
    await session.commit()
    child = await repository.get_child(session, case_ref=case_ref)
    return await case_response(session, view, child=child)


# Field names recorded in the audit trail (the values stay in the store); others are "other".
KNOWN_CHILD_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "ethnicity",
        "postcode",
        "upn",
        "uln",
        "upn_unknown_reason",
        "setting",
        "setting_urn",
        "setting_ukprn",
        "sen_type",
        "rya",
        "sen_unit",
        "resourced_provision",
        "nhs_number",
    }
)


@router.patch(
    "/{case_ref}/child",
    response_model=CaseResponse,
    summary="Change the child's details (SEN2 fields included); null removes a field",
)
async def patch_child(
    case_ref: str,
    user: Writer,
    client: ClientDep,
    session: SessionDep,
    today: TodayDep,
    changes: Annotated[dict[str, Any], Body(examples=[{"setting": "OLA"}])],
    idempotency_key: IdempotencyKey = None,
) -> CaseResponse:
    """Validated as on ``POST /assessments``. The trail records who changed which fields
    and when; the values stay in the store. The same changes sent again (or the same
    Idempotency-Key) add no second line to the trail."""
    if not changes:
        raise ApiError(422, "nothing_to_change", "Send at least one field of the child.")
    try:
        result = await repository.update_child(session, case_ref=case_ref, changes=changes)
    except ValidationError as exc:
        await session.rollback()
        problems = [f"child.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ApiError(422, "invalid_child", " ".join(problems), problems=problems) from None
    if result is None:
        raise temporal_gateway.NO_CASE
    child, changed = result
    await session.commit()
    fields = sorted({f if f in KNOWN_CHILD_FIELDS else "other" for f in changed})
    key = temporal_gateway.update_id("child", BodyFingerprint(changes=changes), idempotency_key)
    try:
        view = await temporal_gateway.update(
            client,
            case_ref,
            AssessmentWorkflow.child_changed,
            ChildChanged(fields=fields, entered_by=str(user.id)),
            update_key=key,
        )
    except ApiError as refused:
        if refused.error != "case_closed":
            raise
        # The case's workflow has finished (a plan issued long ago still needs its SEN2
        # setting): the change stands, and its audit line goes straight to the store.
        await repository.append_event(
            session,
            case_ref=case_ref,
            kind=EventKind.CHILD_DETAILS_CHANGED,
            occurred_on=today,
            entered_by=str(user.id),
            detail={"fields": ",".join(fields), "update_id": key},
        )
        await session.commit()
        view = await temporal_gateway.view(client, case_ref)
    return await case_response(session, view, child=child)


class BodyFingerprint(BaseModel):
    changes: dict[str, Any]


class AssigneeOut(BaseModel):
    case_ref: str
    assignee_id: int | None
    assignee: str | None


@router.put(
    "/{case_ref}/assignee",
    response_model=AssigneeOut,
    summary="Assign the case to a caseworker (null: nobody)",
)
async def assign(
    case_ref: str, body: AssigneeBody, user: Writer, session: SessionDep
) -> AssigneeOut:
    name = None
    if body.user_id is not None:
        row = await repository.get_user(session, user_id=body.user_id)
        if row is None or row.role not in (Role.CASEWORKER, Role.MANAGER, Role.ADMIN):
            raise ApiError(
                422, "unknown_user", f"There is no caseworker with user id {body.user_id}."
            )
        name = row.name
    if not await repository.assign(session, case_ref=case_ref, assignee_id=body.user_id):
        raise temporal_gateway.NO_CASE
    await session.commit()
    return AssigneeOut(case_ref=case_ref, assignee_id=body.user_id, assignee=name)


__all__ = ["User", "router"]
