"""The team portal: a health or social care team answers a request from the email's link.

``/respond/{advice_id}`` (the one link every notice carries) asks for the team's email
address and sends a one-time sign-in link to it when it is one of that team's registered
addresses (its own or its escalation ladder's); the page answers the same whatever the
address, so it tells no one which addresses are registered. Signed in, a browser session
is scoped to that team: ``/respond`` lists its open requests, and each request shows the
child (every view is written to the access log), what is asked, the due date, and a form
generated from the agency's agreed template, the same ``Template`` that
``ehc.advice_templates.problems`` checks, submitted through the API's own submission path.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from api.deps import ClientDep, Clock, SessionDep, SettingsDep, TodayDep, require
from api.errors import ApiError
from api.pages.paging import page_number, pagination
from api.pages.render import render
from api.routes.advice import SubmissionBody, record_submission
from api.webauth import CSRF_FIELD, PageError, check_csrf, secure_cookies
from ehc.advice_templates import Template
from ehc.directory import Directory, Team
from ehc.models import AdviceRequestRecord, Role, User
from ehc.notify.base import Email, PermanentSendError, RetryableSendError
from ehc.notify.factory import make_sender
from ehc.notify.render import respond_url
from ehc.settings import Settings
from ehc.statutory import Agency
from ehc.store import advice_requests, page_queries, repository, team_portal

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["teams"])

COOKIE = "ehc_team_session"
LINK_CSRF_COOKIE = "ehc_team_link_csrf"
LIST_ROWS = 3  # rows offered for each list section (outcomes, provision)
PER_PAGE = 50  # requests on each page of the team's list
NOT_FOUND = PageError(
    404, "Page not found", "There is no request with that reference for your team."
)


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _member(request: Request, session: SessionDep) -> team_portal.TeamMember | None:
    member = await team_portal.team_member(
        session, cookie=request.cookies.get(COOKIE, ""), now=_clock(request)()
    )
    await session.rollback()
    return member


Member = Annotated[team_portal.TeamMember | None, Depends(_member)]


def _set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/respond",
    )


def _ask_page(
    request: Request, settings: Settings, *, advice_id: str | None, errors: list[dict[str, str]]
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "respond_sign_in.html",
        {
            "title": "Sign in to respond to an advice request",
            "csrf_token": token,
            "advice_id": advice_id or "",
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
        },
        status_code=422 if errors else 200,
    )
    _set_cookie(response, settings, LINK_CSRF_COOKIE, token, 3600)
    return response


def _teams_for(teams: list[Team], email: str, row: AdviceRequestRecord | None) -> Team | None:
    """The team this address may sign in for: the request's team when there is a request,
    otherwise the one team whose own address it is (or whose ladder alone names it)."""
    if row is not None:
        team = next((t for t in teams if t.id == row.team), None)
        return team if team is not None and team_portal.registered(team, email) else None
    own = [t for t in teams if str(t.email).lower() == email.strip().lower()]
    if len(own) == 1:
        return own[0]
    matches = [t for t in teams if team_portal.registered(t, email)]
    return matches[0] if len(matches) == 1 else None


@router.post("/respond/sign-in-link")
async def send_link(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    check_csrf(form, request.cookies.get(LINK_CSRF_COOKIE, ""))
    email = str(form.get("email", "")).strip()
    advice_id = str(form.get("advice_id", "")).strip() or None
    if "@" not in email or len(email) > 200:
        text = "Enter your team's email address, like name@nhs.net"
        return _ask_page(
            request, settings, advice_id=advice_id, errors=[{"field": "email", "text": text}]
        )
    row = await advice_requests.advice_request(session, advice_id=advice_id) if advice_id else None
    team = None
    if advice_id is None or row is not None:
        team = _teams_for(await advice_requests.list_teams(session), email, row)
    now = _clock(request)()
    if team is not None and await team_portal.may_send_link(session, email=email, now=now):
        token = await team_portal.create_link(
            session, team=team.id, email=email, advice_id=advice_id, now=now
        )
        # In the query string: the access log drops it (ehc.logging.DropQueryStrings).
        link = f"{settings.public_url.rstrip('/')}/respond/link?token={token}"
        message = Email(
            to=email,
            subject="Your sign-in link to respond to EHC advice requests",
            body=(
                f"Use this link to sign in and see your team's advice requests:\n\n{link}\n\n"
                "It works once, within 30 minutes. If you did not ask for it, ignore this "
                "message: nobody can sign in without it.\n"
            ),
            key=f"sign-in:{secrets.token_hex(8)}",
        )
        # The page says the same either way; the person can ask again.
        with contextlib.suppress(RetryableSendError, PermanentSendError):
            await make_sender(settings).send(message)
    return render(request, "respond_check_email.html", {"title": "Check your email"})


@router.get("/respond/link")
async def link_page(request: Request, token: str = "") -> HTMLResponse:
    """A button, not a sign-in on GET: mail scanners that open links do not use them up."""
    return render(request, "respond_link.html", {"title": "Sign in", "token": token})


@router.post("/respond/link")
async def use_link(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    token = str(form.get("token", ""))
    signed = await team_portal.redeem_link(session, token=token, now=_clock(request)())
    if signed is None:
        raise PageError(
            400,
            "This sign-in link has expired",
            "Each link works once, within 30 minutes. Go back to the link in your email "
            "and ask for a new one.",
        )
    target = f"/respond/{signed.advice_id}" if signed.advice_id else "/respond"
    response = RedirectResponse(target, status_code=303)
    age = int(team_portal.SESSION_LIFETIME.total_seconds())
    _set_cookie(response, settings, COOKIE, signed.cookie, age)
    response.delete_cookie(LINK_CSRF_COOKIE, path="/respond")
    return response


@router.post("/respond/sign-out")
async def team_sign_out(
    request: Request, member: Member, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    if member is not None:
        check_csrf(form, member.csrf_token)
        await team_portal.sign_out(
            session, cookie=request.cookies.get(COOKIE, ""), now=_clock(request)()
        )
    response = RedirectResponse("/respond", status_code=303)
    response.delete_cookie(COOKIE, path="/respond")
    return response


@router.get("/respond", response_model=None)
async def requests_page(
    request: Request,
    member: Member,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    page: str | None = None,
) -> HTMLResponse | RedirectResponse:
    if member is None:
        return _ask_page(request, settings, advice_id=None, errors=[])
    number = page_number(page)
    if number is None:  # not a page number: the list starts at page 1
        return RedirectResponse("/respond", status_code=303)
    listing = await advice_requests.team_requests_page(
        session, team=member.team, page=number, per_page=PER_PAGE
    )
    if number > listing.last_page:
        raise PageError(
            404,
            "Page not found",
            f"There is no page {number} of your team's requests: the list has "
            f"{listing.last_page} {'page' if listing.last_page == 1 else 'pages'}.",
        )
    rows = listing.requests
    team = await advice_requests.get_team(session, team_id=member.team)
    children = await page_queries.child_identities(session, case_refs=[r.case_ref for r in rows])
    await _log_listed(request, session, member, rows, children)
    return render(
        request,
        "respond_list.html",
        {
            "title": "Your team's advice requests"
            + (f" (page {number} of {listing.last_page})" if listing.last_page > 1 else ""),
            "member": member,
            "team_name": team.name if team else member.team,
            "requests": rows,
            "listing": listing,
            "pagination": pagination(
                number, listing.last_page, "/respond", "Pages of your team's requests"
            ),
            "children": children,
            "today": today,
        },
    )


async def _log_listed(
    request: Request,
    session: SessionDep,
    member: team_portal.TeamMember,
    rows: list[AdviceRequestRecord],
    children: dict[str, Any],
) -> None:
    """One access-log row for each child the page shows (the page's requests only)."""
    for row in rows:
        if row.case_ref in children:
            await _log_view(request, session, member, row, "team_request_list")
    await session.commit()


async def _log_view(
    request: Request,
    session: SessionDep,
    member: team_portal.TeamMember,
    row: AdviceRequestRecord,
    what: str,
) -> None:
    """Write to the access log that ``member`` was shown the child of ``row`` (``what``:
    the page). The caller commits."""
    await team_portal.log_access(
        session,
        at=_clock(request)(),
        viewer=member.email,
        team=member.team,
        case_ref=row.case_ref,
        advice_id=row.id,
        what=what,
    )


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


async def _own(session: SessionDep, member: team_portal.TeamMember, advice_id: str) -> Any:
    row = await advice_requests.advice_request(session, advice_id=advice_id)
    if row is None or row.team != member.team:
        raise NOT_FOUND
    return row


def fields(template: Template) -> list[dict[str, Any]]:
    """The form's fields, one per section of the agreed template (the checked one)."""
    out: list[dict[str, Any]] = []
    for key, rule in template.sections.items():
        out.append(
            {
                "key": key,
                "title": rule.title,
                "kind": rule.kind,
                "item_fields": list(rule.item_fields),
                "rows": list(range(1, LIST_ROWS + 1)),
            }
        )
    return out


def sections_from_form(template: Template, form: Any) -> dict[str, Any]:
    """The submission's sections as the API takes them: text, or a list of entries (rows
    left wholly blank are dropped; a half-filled row is kept, so the check names its gaps)."""
    sections: dict[str, Any] = {}
    for key, rule in template.sections.items():
        if rule.kind == "text":
            sections[key] = str(form.get(key, "")).strip()
            continue
        items = []
        for i in range(1, LIST_ROWS + 1):
            item = {f: str(form.get(f"{key}-{i}-{f}", "")).strip() for f in rule.item_fields}
            if any(item.values()):
                items.append(item)
        sections[key] = items
    return sections


def _errors(found: list[str]) -> list[dict[str, str]]:
    errors = []
    for text in found:
        key, _, sentence = text.partition(": ")
        errors.append({"field": key, "text": sentence[:1].upper() + sentence[1:]})
    return errors


async def _request_page(
    request: Request,
    session: SessionDep,
    member: team_portal.TeamMember,
    row: AdviceRequestRecord,
    today: date,
    *,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> HTMLResponse:
    template = _directory(request).template(Agency(row.agency))
    child = await repository.get_child(session, case_ref=row.case_ref)
    await _log_view(request, session, member, row, "team_request_page")
    await session.commit()
    reasons = None
    if row.outcome == "returned_for_quality":
        for cycle in range(1, 20):
            found = await advice_requests.return_reasons(
                session, case_ref=row.case_ref, advice_id=row.id, cycle=cycle
            )
            if found is None:
                break
            reasons = found
        if values is None:
            values = await _previous_answers(session, row.id)
    extra = child.model_extra or {} if child else {}
    return render(
        request,
        "respond_request.html",
        {
            "title": f"Advice request {row.case_ref}",
            "member": member,
            "row": row,
            "child": child,
            "nhs_number": extra.get("nhs_number"),
            "overdue": row.due_on < today,
            "template": template,
            "fields": fields(template),
            "values": _flat(template, values or {}),
            "reasons": reasons,
            "errors": errors or [],
            "error_for": {e["field"]: e["text"] for e in errors or []},
            "csrf_token": member.csrf_token,
            "link": respond_url("", row.id),
        },
        status_code=422 if errors else 200,
    )


async def _previous_answers(session: SessionDep, advice_id: str) -> dict[str, Any]:
    rows = await page_queries.submission_sections(session, advice_id=advice_id)
    return rows or {}


def _flat(template: Template, sections: dict[str, Any]) -> dict[str, str]:
    """Form values by field name, from sections (to show what was sent back)."""
    flat: dict[str, str] = {}
    for key, rule in template.sections.items():
        value = sections.get(key)
        if rule.kind == "text":
            flat[key] = str(value or "")
        elif isinstance(value, list):
            for i, item in enumerate(value[:LIST_ROWS], 1):
                if isinstance(item, dict):
                    for f in rule.item_fields:
                        flat[f"{key}-{i}-{f}"] = str(item.get(f) or "")
    return flat


@router.get("/respond/{advice_id}")
async def request_page(
    request: Request,
    advice_id: str,
    member: Member,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    if member is None:
        return _ask_page(request, settings, advice_id=advice_id, errors=[])
    row = await _own(session, member, advice_id)
    return await _request_page(request, session, member, row, today)


@router.post("/respond/{advice_id}")
async def submit_page(
    request: Request,
    advice_id: str,
    member: Member,
    session: SessionDep,
    client: ClientDep,
    today: TodayDep,
) -> HTMLResponse:
    if member is None:
        raise PageError(
            401, "Sign in to respond", "Your session has ended. Open the link in your email."
        )
    form = await request.form()
    check_csrf(form, member.csrf_token)
    row = await _own(session, member, advice_id)
    template = _directory(request).template(Agency(row.agency))
    sections = sections_from_form(template, form)
    body = SubmissionBody(submitted_on=today, sections=sections)
    try:
        _, submission_id = await record_submission(
            row,
            body,
            entered_by=f"team:{member.team}",
            session=session,
            client=client,
            request=request,
            today=today,
        )
    except ApiError as refused:
        if refused.error != "missing_input":
            raise PageError(
                refused.status, "Your advice was not recorded", refused.detail
            ) from None
        found = list(refused.extra.get("problems", []))
        return await _request_page(
            request, session, member, row, today, values=sections, errors=_errors(found)
        )
    return render(
        request,
        "respond_done.html",
        {
            "title": "Advice received",
            "member": member,
            "reference": f"{row.case_ref}-{submission_id}",
            "row": row,
        },
    )


class AccessOut(BaseModel):
    at: Any
    viewer: str
    team: str | None
    case_ref: str
    advice_id: str | None
    what: str


@api_router.get(
    "/access-log", response_model=list[AccessOut], summary="Who viewed a child's record, when"
)
async def access_log(
    user: Annotated[User, Depends(require(Role.MANAGER, Role.ADMIN))], session: SessionDep
) -> list[AccessOut]:
    rows = await team_portal.access_log(session)
    return [AccessOut.model_validate(r, from_attributes=True) for r in rows]


__all__ = ["CSRF_FIELD", "api_router", "router"]
