"""Sign in and sign out (staff), and the front door."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import Clock, SessionDep, SettingsDep
from api.pages.render import render
from api.webauth import (
    COOKIE,
    CSRF_FIELD,
    SIGN_IN_CSRF_COOKIE,
    PageError,
    WebUserDep,
    check_csrf,
    clear_session_cookie,
    new_sign_in_token,
    safe_next,
    set_session_cookie,
    set_sign_in_cookie,
)
from ehc.settings import Settings
from ehc.store import accounts

router = APIRouter(include_in_schema=False)

WRONG = "Enter a correct email address and password."
LOCKED = (
    "This account is locked for 15 minutes after too many wrong passwords. "
    "Try again later, or ask an administrator to reset your password."
)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


def _sign_in_page(
    request: Request,
    settings: Settings,
    *,
    next_path: str,
    email: str = "",
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = new_sign_in_token()
    context: dict[str, Any] = {
        "title": "Sign in",
        "csrf_token": token,
        "next": next_path,
        "email": email,
        "errors": errors or [],
        "error_for": {e["field"]: e["text"] for e in errors or []},
    }
    response = render(request, "sign_in.html", context, status_code=status_code)
    set_sign_in_cookie(response, settings, token)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _sign_in_page(request, settings, next_path=safe_next(request.query_params.get("next")))


@router.post("/sign-in")
async def sign_in(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    check_csrf(form, request.cookies.get(SIGN_IN_CSRF_COOKIE, ""))
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "")))
    errors = []
    if not email:
        errors.append({"field": "email", "text": "Enter your email address"})
    if not password:
        errors.append({"field": "password", "text": "Enter your password"})
    if errors:
        return _sign_in_page(
            request, settings, next_path=next_path, email=email, errors=errors, status_code=422
        )
    clock: Clock = request.app.state.clock
    outcome = await accounts.sign_in(session, email=email, password=password, now=clock())
    if not isinstance(outcome, accounts.SignedIn):
        text = LOCKED if outcome == "locked" else WRONG
        return _sign_in_page(
            request,
            settings,
            next_path=next_path,
            email=email,
            errors=[{"field": "email", "text": text}],
            status_code=429 if outcome == "locked" else 401,
        )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, settings, outcome.cookie)
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, user: WebUserDep, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    check_csrf(form, user.csrf_token)
    clock: Clock = request.app.state.clock
    await accounts.sign_out(session, cookie=request.cookies.get(COOKIE, ""), now=clock())
    response = RedirectResponse("/signed-out", status_code=303)
    clear_session_cookie(response, settings)
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> HTMLResponse:
    return render(request, "signed_out.html", {"title": "You have signed out"})


__all__ = ["CSRF_FIELD", "PageError", "router"]
