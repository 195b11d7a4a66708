"""The caseworker's pages: the worklist, starting a case, a case and its next steps.

Every change goes through the JSON API's own route functions (``api.routes.assessments``),
so a page validates with the same models and the same rules, and is recorded once per
idempotency key exactly as the API records it. Forms post, redirect, then get (PRG).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from api import temporal_gateway as casework
from api.deps import ClientDep, NowDep, SessionDep, SettingsDep, TodayDep
from api.errors import ApiError
from api.pages import forms
from api.pages.render import render
from api.routes import advice, assessments
from api.schemas import (
    AdviceReceivedBody,
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
from api.webauth import PageError, WebUserDep, check_csrf, require_writer
from ehc.models import LimitView, QueueItem, Stage
from ehc.settings import Settings
from ehc.statutory import LimitStatus
from ehc.store import advice_requests as chasing_repository
from ehc.store import page_queries, repository
from ehc.timeline import LIMIT_NAMES, timeline

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
STATUSES = [("breached", "Breached"), ("at_risk", "At risk"), ("pending", "Something due")]


# --- the worklist --------------------------------------------------------------------


def urgency(item: QueueItem, today: date, at_risk_days: int) -> tuple[str, str]:
    """The tag for a worklist row: (text, GOV.UK tag colour class)."""
    if item.breached:
        return "Breached", "govuk-tag--red"
    if item.at_risk:
        return "At risk", "govuk-tag--orange"
    if item.due_on is None:
        return "Nothing due", "govuk-tag--grey"
    if (item.due_on - today).days <= at_risk_days:
        return "Due soon", "govuk-tag--yellow"
    return "On track", "govuk-tag--green"


def days_text(due_on: date | None, today: date) -> str:
    if due_on is None:
        return ""
    days = (due_on - today).days
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} overdue"
    if days == 0:
        return "Due today"
    return f"{days} day{'s' if days != 1 else ''} left"


def _int(text: str | None, low: int, high: int) -> int | None:
    try:
        value = int(text or "")
    except ValueError:
        return None
    return value if low <= value <= high else None


@router.get("/cases")
async def worklist(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    params = request.query_params
    stage = params.get("stage") or None
    if stage not in {s.value for s in Stage}:
        stage = None
    status = params.get("status") or None
    if status not in {"breached", "at_risk", "pending"}:
        status = None
    within = _int(params.get("due_within_days"), 0, 3650)
    query = (params.get("q") or "").strip()[:100]
    cursor = params.get("cursor") or None
    rows: list[dict[str, Any]] = []
    next_cursor = None
    found: list[page_queries.Found] = []
    if query:
        found = await page_queries.search_cases(session, text=query)
    else:
        try:
            # The JSON worklist's own query: open cases, the worst first (issue 10).
            items, next_cursor = await repository.worklist(
                session,
                today=today,
                at_risk_days=settings.at_risk_days,
                stage=stage,
                status=status,  # type: ignore[arg-type]
                due_within_days=within,
                page_size=PAGE_SIZE,
                cursor=cursor,
            )
        except ValueError:
            items, next_cursor = [], None
        names = await page_queries.child_names(session, case_refs=[i.case_ref for i in items])
        for item in items:
            tag, colour = urgency(item, today, settings.at_risk_days)
            rows.append(
                {
                    "item": item,
                    "name": names.get(item.case_ref, ""),
                    "tag": tag,
                    "colour": colour,
                    "days": days_text(item.due_on, today),
                    "limit": LIMIT_NAMES.get(item.limit, "") if item.limit else "",
                }
            )
    await session.rollback()
    filters = {"stage": stage or "", "status": status or "", "due_within_days": within, "q": query}
    next_url = None
    if next_cursor:
        kept = {k: v for k, v in filters.items() if v not in ("", None)}
        next_url = "/cases?" + urlencode({**kept, "cursor": next_cursor})
    return render(
        request,
        "cases.html",
        {
            "title": "Cases",
            "user": user,
            "rows": rows,
            "found": found,
            "filters": filters,
            "stages": [(s.value, s.value.replace("_", " ").capitalize()) for s in Stage],
            "statuses": STATUSES,
            "next_url": next_url,
            "first_page": cursor is None,
            "today": today,
        },
    )


# --- a new case ------------------------------------------------------------------------


@router.get("/cases/new")
async def new_case_form(request: Request, user: WebUserDep) -> HTMLResponse:
    require_writer(user)
    return _new_case_page(request, user, {}, [], 200)


def _new_case_page(
    request: Request,
    user: Any,
    values: dict[str, str],
    errors: list[dict[str, str]],
    status_code: int,
) -> HTMLResponse:
    values = {"idempotency_key": uuid.uuid4().hex, **values}
    return render(
        request,
        "new_case.html",
        {
            "title": "Start an assessment",
            "user": user,
            "fields": forms.NEW_CASE_FIELDS,
            "values": values,
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
        },
        status_code=status_code,
    )


@router.post("/cases/new")
async def new_case(
    request: Request,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    now: NowDep,
) -> Response:
    require_writer(user)
    form = await request.form()
    check_csrf(form, user.csrf_token)
    parsed = forms.parse_new_case(form)
    if not isinstance(parsed.body, CreateAssessment):
        return _new_case_page(request, user, parsed.values, parsed.errors, 422)
    try:
        await assessments.create_assessment(
            body=parsed.body,
            user=user.user,
            client=client,
            session=session,
            settings=settings,
            today=today,
            now=now,
            response=Response(),
        )
    except ApiError as exc:
        field = "case_ref" if exc.error == "case_ref_taken" else "received_on-day"
        errors = [{"field": field, "text": exc.detail}]
        return _new_case_page(request, user, parsed.values, errors, exc.status)
    return RedirectResponse(f"/cases/{parsed.body.case_ref}?done=started", status_code=303)


# --- a case ----------------------------------------------------------------------------


def _limit_row(lim: LimitView, today: date) -> dict[str, Any]:
    if lim.status is LimitStatus.PENDING:
        when = days_text(lim.due_on, today)
    elif lim.status is LimitStatus.BREACHED:
        late = ((lim.met_on or today) - lim.due_on).days
        when = f"{max(late, 1)} day{'s' if max(late, 1) != 1 else ''} late"
    elif lim.met_on is not None:
        early = (lim.due_on - lim.met_on).days
        when = f"met {early} day{'s' if early != 1 else ''} early" if early > 0 else "met on time"
    else:
        when = ""
    colour = {
        LimitStatus.MET: "govuk-tag--green",
        LimitStatus.BREACHED: "govuk-tag--red",
        LimitStatus.EXCEPTION: "govuk-tag--purple",
        LimitStatus.NOT_APPLICABLE: "govuk-tag--grey",
    }.get(lim.status, "govuk-tag--blue")
    if lim.status is LimitStatus.PENDING and lim.at_risk:
        colour = "govuk-tag--orange"
    return {"limit": lim, "when": when, "colour": colour}


async def _case(
    case_ref: str,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: Settings,
    today: date,
) -> CaseResponse:
    try:
        return await assessments.get_assessment(
            case_ref=case_ref,
            user=user.user,
            client=client,
            session=session,
            settings=settings,
            today=today,
        )
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, "Case not found", exc.detail) from None
        raise PageError(exc.status, "The case could not be read", exc.detail) from None


async def _case_page(
    request: Request,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: Settings,
    today: date,
    case_ref: str,
    *,
    open_step: str | None = None,
    errors: list[dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    # The case response already carries names, notes and submissions (api.caseview).
    case = await _case(case_ref, user, client, session, settings, today)
    advice_ids = [a.id for a in case.advice_requests]
    submitted = {
        a.id: [
            {
                "submitted_on": sub.submitted_on,
                "accepted": sub.accepted,
                "problems": list(sub.problems),
                "sections": sorted(sub.sections),
            }
            for sub in a.submissions
        ]
        for a in case.advice_requests
        if a.submissions
    }
    notices = {  # plain values: the rows expire at the rollback below
        a: [
            {"kind": n.kind, "recipient": n.recipient, "status": n.status, "sent_at": n.sent_at}
            for n in await chasing_repository.list_notices(session, advice_id=a)
        ]
        for a in advice_ids
    }
    await session.rollback()
    trail = [
        {
            "event": e,
            "by": e.entered_by_name or e.entered_by,
            "note": e.note,
        }
        for e in sorted(case.events, key=lambda e: (e.occurred_on, e.seq))
    ]
    steps = forms.next_steps(case) if user.can_write else []
    primary = [s for s in steps if s.slug not in forms.ALWAYS_OPEN]
    others = [s for s in steps if s.slug in forms.ALWAYS_OPEN]
    advice_choices = [
        (a.id, f"{a.id} ({a.agency.value.replace('_', ' ')})") for a in case.advice_requests
    ]
    done = request.query_params.get("done")
    done_text = (
        "Case started"
        if done == "started"
        else (forms.STEPS[done].done if done in forms.STEPS else None)
    )
    return render(
        request,
        "case.html",
        {
            "title": f"Case {case.case_ref}",
            "user": user,
            "case": case,
            "today": today,
            "picture": timeline(case, today),
            "limits": [_limit_row(lim, today) for lim in case.limits],
            "limit_names": LIMIT_NAMES,
            "trail": trail,
            "notices": notices,
            "submitted": submitted,
            "primary": primary,
            "others": others,
            "open_step": open_step,
            "errors": errors or [],
            "error_for": {e["field"]: e["text"] for e in errors or []},
            "values": {"idempotency_key": uuid.uuid4().hex, **(values or {})},
            "advice_choices": advice_choices,
            "done": done_text,
        },
        status_code=status_code,
    )


@router.get("/cases/{case_ref}")
async def case_page(
    request: Request,
    case_ref: str,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    return await _case_page(request, user, client, session, settings, today, case_ref)


async def _apply(
    step: str,
    case_ref: str,
    body: BaseModel,
    *,
    request: Request,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    key: str | None,
) -> None:
    """Record the step through the JSON API's own route function."""
    who = user.user
    if isinstance(body, DecisionToAssessBody):
        await assessments.decision_to_assess(
            case_ref=case_ref, body=body, user=who, client=client, idempotency_key=key
        )
    elif isinstance(body, AdviceRequestBody):
        await assessments.request_advice(
            case_ref=case_ref,
            body=body,
            user=who,
            client=client,
            session=session,
            request=request,
            idempotency_key=key,
        )
    elif isinstance(body, DecisionToIssueBody):
        await assessments.decision_to_issue(
            case_ref=case_ref,
            body=body,
            user=who,
            client=client,
            session=session,
            idempotency_key=key,
        )
    elif isinstance(body, DraftPlanBody):
        await assessments.draft_plan(
            case_ref=case_ref, body=body, user=who, client=client, idempotency_key=key
        )
    elif isinstance(body, FinalPlanBody):
        await assessments.final_plan(
            case_ref=case_ref,
            body=body,
            user=who,
            client=client,
            session=session,
            idempotency_key=key,
        )
    elif isinstance(body, ExceptionBody):
        await assessments.record_exception(
            case_ref=case_ref,
            body=body,
            user=who,
            client=client,
            session=session,
            idempotency_key=key,
        )
    elif isinstance(body, WithdrawalBody):
        await assessments.withdrawal(
            case_ref=case_ref,
            body=body,
            user=who,
            client=client,
            session=session,
            idempotency_key=key,
        )
    elif isinstance(body, forms.AdviceReceivedForm):
        if casework.case_ref_of_advice(body.advice_id) != case_ref:
            raise ApiError(422, "not_this_case", "Choose one of this case's advice requests.")
        received = AdviceReceivedBody(received_on=body.received_on)
        await advice.advice_received(
            advice_id=body.advice_id, body=received, user=who, client=client
        )
    else:  # pragma: no cover - every step's body is listed above
        raise PageError(404, "Page not found", f"There is no step '{step}'.")


@router.post("/cases/{case_ref}/steps/{step}")
async def record_step(
    request: Request,
    case_ref: str,
    step: str,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Response:
    require_writer(user)
    form = await request.form()
    check_csrf(form, user.csrf_token)
    spec = forms.STEPS.get(step)
    if spec is None:
        raise PageError(404, "Page not found", f"There is no step '{step}'.")
    parsed = forms.parse(spec.fields, spec.body, form)
    if parsed.body is None:
        return await _case_page(
            request,
            user,
            client,
            session,
            settings,
            today,
            case_ref,
            open_step=step,
            errors=[{**e, "field": f"{step}-{e['field']}"} for e in parsed.errors],
            values=parsed.values,
            status_code=422,
        )
    key = str(form.get("idempotency_key", "")) or None
    try:
        await _apply(
            step,
            case_ref,
            parsed.body,
            request=request,
            user=user,
            client=client,
            session=session,
            key=key,
        )
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, "Case not found", exc.detail) from None
        errors = [{"field": f"{step}-{_refusal_field(spec, exc)}", "text": exc.detail}]
        return await _case_page(
            request,
            user,
            client,
            session,
            settings,
            today,
            case_ref,
            open_step=step,
            errors=errors,
            values=parsed.values,
            status_code=exc.status if 400 <= exc.status < 500 else 422,
        )
    return RedirectResponse(f"/cases/{case_ref}?done={step}", status_code=303)


def _refusal_field(step: forms.Step, exc: ApiError) -> str:
    """The field a refusal is about: the kind of exception, the team, or the date."""
    if step.slug == "exception":
        return "kind"
    if exc.error == "not_this_case":
        return "advice_id"
    if exc.error == "unknown_team":
        return "team"
    dates = [f for f in step.fields if f.kind == "date"]
    return (dates[0] if dates else step.fields[0]).anchor
