"""The caseworker's pages: the worklist, starting a case, a case and its next steps.

Every change goes through the JSON API's own route functions (``api.routes.assessments``),
so a page validates with the same models and the same rules, and is recorded once per
idempotency key exactly as the API records it. Forms post, redirect, then get (PRG).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from api import temporal_gateway
from api.deps import ClientDep, NowDep, SessionDep, SettingsDep, TodayDep
from api.errors import ApiError
from api.pages import forms
from api.pages.render import long_date, render, words
from api.routes import advice, assessments
from api.schemas import AdviceReceivedBody, CaseResponse, CreateAssessment, EventOut
from api.webauth import PageError, WebUserDep, check_csrf, require_writer
from ehc.corrections import amended
from ehc.models import ChildDetails, LimitView, QueueItem, Stage
from ehc.settings import Settings
from ehc.statutory import LimitStatus
from ehc.store import advice_requests, page_queries, repository
from ehc.timeline import LIMIT_NAMES, timeline

router = APIRouter(include_in_schema=False)
DONE = {
    "started": "Case started",
    "child": "The child's details are saved",
}
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
    now: datetime,
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
            for n in await advice_requests.list_notices(session, advice_id=a)
        ]
        for a in advice_ids
    }
    await session.rollback()
    in_grace = _in_grace(case, now, settings.case_close_grace_days)
    steps = forms.next_steps(case, in_grace=in_grace) if user.can_write else []
    primary = [s for s in steps if s.slug in forms.NEXT.get(case.stage, [])]
    others = [s for s in steps if s not in primary]
    choices = {
        "advice_id": [
            (a.id, f"{a.id} ({a.agency.value.replace('_', ' ')})") for a in case.advice_requests
        ],
        "entry": correctable_entries(case.events),
    }
    done = request.query_params.get("done")
    done_text = DONE.get(done or "") or (forms.STEPS[done].done if done in forms.STEPS else None)
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
            "trail": audit_trail(case.events),
            "notices": notices,
            "submitted": submitted,
            "primary": primary,
            "others": others,
            "open_step": open_step,
            "errors": errors or [],
            "error_for": {e["field"]: e["text"] for e in errors or []},
            "values": {"idempotency_key": uuid.uuid4().hex, **(values or {})},
            "choices": choices,
            "done": done_text,
        },
        status_code=status_code,
    )


# --- the audit trail and what can be corrected -----------------------------------------

_FOLLOW_UPS = {"corrected": "corrects", "reopened": "undoes"}


def audit_trail(events: list[EventOut]) -> list[dict[str, Any]]:
    """The trail in date order, each correction or reopening placed just after the entry
    it amends (the correction's own date is the corrected one, so date order alone would
    put it elsewhere)."""
    follow: dict[int, list[EventOut]] = {}
    main: list[EventOut] = []
    for e in events:
        link = _FOLLOW_UPS.get(e.kind)
        if link and e.detail.get(link, "").isdigit():
            follow.setdefault(int(e.detail[link]), []).append(e)
        else:
            main.append(e)
    rows: list[dict[str, Any]] = []
    for e in sorted(main, key=lambda e: (e.occurred_on, e.seq)):
        rows.append(_trail_row(e, amends=None))
        rows += [_trail_row(f, amends=e) for f in sorted(follow.get(e.seq, []), key=_seq)]
    return rows


def _seq(event: EventOut) -> int:
    return event.seq


def _trail_row(event: EventOut, *, amends: EventOut | None) -> dict[str, Any]:
    hidden = {"update_id", "corrects", "event_kind", "undoes"}
    changes = []
    if event.kind == "corrected":
        changes = [
            (name, _shown(event.detail.get(f"{name}_was", "")), _shown(value))
            for name, value in event.detail.items()
            if name not in hidden and not name.endswith("_was")
        ]
    details = [
        (k, v) for k, v in event.detail.items() if k not in hidden and event.kind != "corrected"
    ]
    return {
        "event": event,
        "by": event.entered_by_name or event.entered_by,
        "note": event.note,
        "amends": amends,
        "changes": changes,
        "details": details,
    }


def _shown(value: str) -> str:
    """A recorded value as the trail shows it: a date in words, a code as words."""
    try:
        return long_date(date.fromisoformat(value))
    except ValueError:
        return words(value) or "nothing"


def correctable_entries(events: list[EventOut]) -> list[tuple[str, str]]:
    """The dates a caseworker may correct, as ``("{seq}:{field}", label)``, each labelled
    with its entry and its date as it stands now (after earlier corrections)."""
    latest, undone = amended(events)
    entries = []
    for e in sorted(events, key=lambda e: e.seq):
        if e.seq in undone:
            continue
        on = latest.get(e.seq, (e.occurred_on, {}))[0]
        for name, label in forms.CORRECTABLE_DATES.get(e.kind, []):
            what = e.kind.replace("_", " ")
            advice = f" {e.detail['advice_id']}" if "advice_id" in e.detail else ""
            entries.append(
                (f"{e.seq}:{name}", f"{what.capitalize()}{advice} of {long_date(on)}: {label}")
            )
    return entries


def _in_grace(case: CaseResponse, now: datetime, grace_days: int) -> bool:
    """Whether a closed case is still inside its grace period (a reopening is lawful)."""
    closing = {Stage.WITHDRAWN: "withdrawn", Stage.CLOSED_NOT_ASSESSED: "decision_to_assess"}
    kind = closing.get(case.stage)
    closed = [e.entered_at for e in case.events if e.kind == kind]
    return bool(closed) and now < max(closed) + timedelta(days=grace_days)


@router.get("/cases/{case_ref}")
async def case_page(
    request: Request,
    case_ref: str,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    now: NowDep,
) -> HTMLResponse:
    return await _case_page(request, user, client, session, settings, today, now, case_ref)


# --- recording a step: one line per step ----------------------------------------------


@dataclass(frozen=True)
class StepContext:
    """What a route function may ask for; each is given the arguments it names."""

    request: Request
    user: WebUserDep
    client: ClientDep
    session: SessionDep
    key: str | None

    def arguments(self, route: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
        offered = {
            "request": self.request,
            "user": self.user.user,
            "client": self.client,
            "session": self.session,
            "idempotency_key": self.key,
        }
        wanted = inspect.signature(route).parameters
        return {name: value for name, value in offered.items() if name in wanted}


async def _advice_received(
    *, case_ref: str, body: forms.AdviceReceivedForm, user: Any, client: ClientDep
) -> None:
    if temporal_gateway.case_ref_of_advice(body.advice_id) != case_ref:
        raise ApiError(422, "not_this_case", "Choose one of this case's advice requests.")
    received = AdviceReceivedBody(received_on=body.received_on)
    await advice.advice_received(advice_id=body.advice_id, body=received, user=user, client=client)


async def _correction(
    *,
    case_ref: str,
    body: forms.CorrectionForm,
    user: Any,
    client: ClientDep,
    session: SessionDep,
    idempotency_key: str | None,
) -> None:
    await assessments.correct(
        case_ref=case_ref,
        body=body.body(),
        user=user,
        client=client,
        session=session,
        idempotency_key=idempotency_key,
    )


# Each step's slug and the function that records it (the JSON API's own route, or a thin
# adapter from the page's form to it).
RECORDERS: dict[str, Callable[..., Awaitable[Any]]] = {
    "decision-to-assess": assessments.decision_to_assess,
    "advice-request": assessments.request_advice,
    "decision-to-issue": assessments.decision_to_issue,
    "draft-plan": assessments.draft_plan,
    "final-plan": assessments.final_plan,
    "exception": assessments.record_exception,
    "withdrawal": assessments.withdrawal,
    "advice-received": _advice_received,
    "correction": _correction,
    "reopen": assessments.reopen,
}


async def _apply(step: str, case_ref: str, body: BaseModel, context: StepContext) -> None:
    """Record the step through the JSON API's own route function."""
    route = RECORDERS[step]
    await route(case_ref=case_ref, body=body, **context.arguments(route))


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
    now: NowDep,
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
            now,
            case_ref,
            open_step=step,
            errors=[{**e, "field": f"{step}-{e['field']}"} for e in parsed.errors],
            values=parsed.values,
            status_code=422,
        )
    key = str(form.get("idempotency_key", "")) or None
    context = StepContext(request, user, client, session, key)
    try:
        await _apply(step, case_ref, parsed.body, context)
    except ApiError as exc:
        if exc.status == 404 and exc.detail == temporal_gateway.NO_CASE.detail:
            raise PageError(404, "Case not found", exc.detail) from None
        errors = [{"field": f"{step}-{_refusal_field(spec, exc)}", "text": exc.detail}]
        return await _case_page(
            request,
            user,
            client,
            session,
            settings,
            today,
            now,
            case_ref,
            open_step=step,
            errors=errors,
            values=parsed.values,
            status_code=exc.status if 400 <= exc.status < 500 else 422,
        )
    return RedirectResponse(f"/cases/{case_ref}?done={step}", status_code=303)


def _refusal_field(step: forms.Step, exc: ApiError) -> str:
    """The field a refusal is about: the kind of exception, the team, the entry, the
    reason, or the date."""
    if step.slug == "exception":
        return "kind"
    if step.slug == "reopen":
        return "reason"
    if exc.error in ("not_found", "not_correctable", "invalid_correction"):
        return "entry"
    if exc.error == "not_this_case":
        return "advice_id"
    if exc.error == "unknown_team":
        return "team"
    dates = [f for f in step.fields if f.kind == "date"]
    return (dates[0] if dates else step.fields[0]).anchor


# --- the child's details ---------------------------------------------------------------


def _child_values(child: ChildDetails | None) -> dict[str, str]:
    """The form's values for the child as stored (dates as the three GOV.UK boxes)."""
    if child is None:
        return {}
    data = child.model_dump(mode="json")
    values = {f.name: str(data.get(f.name) or "") for f in forms.CHILD_FIELDS if f.kind != "date"}
    born = child.date_of_birth
    values |= {
        "date_of_birth-day": str(born.day),
        "date_of_birth-month": str(born.month),
        "date_of_birth-year": str(born.year),
    }
    return values


def _child_page(
    request: Request,
    user: WebUserDep,
    case_ref: str,
    values: dict[str, str],
    errors: list[dict[str, str]],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "child.html",
        {
            "title": f"Change the child's details: case {case_ref}",
            "user": user,
            "case_ref": case_ref,
            "fields": forms.CHILD_FIELDS,
            "values": {"idempotency_key": uuid.uuid4().hex, **values},
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
        },
        status_code=status_code,
    )


async def _stored_child(session: SessionDep, case_ref: str) -> ChildDetails:
    child = await repository.get_child(session, case_ref=case_ref)
    await session.rollback()
    if child is None:
        raise PageError(404, "Case not found", temporal_gateway.NO_CASE.detail)
    return child


@router.get("/cases/{case_ref}/child")
async def child_form(
    request: Request, case_ref: str, user: WebUserDep, session: SessionDep
) -> HTMLResponse:
    require_writer(user)
    child = await _stored_child(session, case_ref)
    return _child_page(request, user, case_ref, _child_values(child), [])


@router.post("/cases/{case_ref}/child")
async def change_child(
    request: Request,
    case_ref: str,
    user: WebUserDep,
    client: ClientDep,
    session: SessionDep,
    today: TodayDep,
) -> Response:
    require_writer(user)
    form = await request.form()
    check_csrf(form, user.csrf_token)
    parsed = forms.parse_child(form)
    if parsed.body is None:
        return _child_page(request, user, case_ref, parsed.values, parsed.errors, 422)
    current = await _stored_child(session, case_ref)
    changes = forms.child_changes(parsed.body, current.model_dump(mode="json"))
    if not changes:  # nothing new, or the same form sent twice: nothing more to record
        return RedirectResponse(f"/cases/{case_ref}?done=child", status_code=303)
    try:
        await assessments.patch_child(
            case_ref=case_ref,
            user=user.user,
            client=client,
            session=session,
            today=today,
            changes=changes,
            idempotency_key=str(form.get("idempotency_key", "")) or None,
        )
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, "Case not found", exc.detail) from None
        errors = [{"field": forms.CHILD_FIELDS[0].anchor, "text": exc.detail}]
        return _child_page(request, user, case_ref, parsed.values, errors, exc.status)
    return RedirectResponse(f"/cases/{case_ref}?done=child", status_code=303)
