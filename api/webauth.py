"""Staff sign-in for the web pages: a session cookie, a CSRF token per session, lockout.

The cookie is HttpOnly and SameSite=Lax, and Secure in production (over plain HTTP on the
developer's own machine a Secure cookie would never come back). It holds a random id;
the store keeps its hash (``ehc.store.accounts``). Every form carries the session's CSRF
token and every POST checks it; the sign-in form, before there is a session, uses a
double-submit cookie. The JSON API's bearer tokens are unaffected.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Clock, SessionDep
from ehc.models import Role, User
from ehc.settings import Settings
from ehc.store import accounts
from ehc.store.db import read_outside_a_transaction

COOKIE = "ehc_session"
SIGN_IN_CSRF_COOKIE = "ehc_sign_in_csrf"
CSRF_FIELD = "csrf_token"
READERS = frozenset({Role.CASEWORKER, Role.MANAGER, Role.ADMIN})
WRITERS = frozenset({Role.CASEWORKER, Role.ADMIN})


class SignInRequired(Exception):
    """No valid session: the page sends the browser to sign in, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """A page that cannot be shown, with a title and a sentence for the person."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass(frozen=True)
class WebUser:
    user: User
    csrf_token: str

    @property
    def can_write(self) -> bool:
        return self.user.role in WRITERS


def secure_cookies(settings: Settings) -> bool:
    return settings.environment == "production"


def set_session_cookie(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, httponly=True, samesite="lax", secure=secure_cookies(settings), path="/"
    )


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def set_sign_in_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/sign-in",
    )


def safe_next(path: str | None) -> str:
    """Only a local path: never send someone off to another site after signing in."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/cases"
    return path


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(target, safe='')}"


async def web_user(request: Request, session: SessionDep) -> WebUser:
    """The signed-in member of staff, or ``SignInRequired``."""
    clock: Clock = request.app.state.clock
    await read_outside_a_transaction(session)
    found = await accounts.session_user(
        session, cookie=request.cookies.get(COOKIE, ""), now=clock()
    )
    # Hold no read transaction while the page waits on Temporal.
    await session.rollback()
    if found is None:
        raise SignInRequired(sign_in_url(request))
    user, csrf = found
    if user.role not in READERS:
        raise PageError(403, "You cannot see case pages", f"A {user.role} user cannot see cases.")
    return WebUser(user=user, csrf_token=csrf)


def check_csrf(form: FormData, expected: str) -> None:
    """Refuse a form that does not carry this session's token (a forged or stale form)."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        raise PageError(
            400,
            "This form has expired",
            "The form was not sent from this signed-in session. Go back, reload the page "
            "and try again.",
        )


def require_writer(user: WebUser) -> None:
    if not user.can_write:
        raise PageError(403, "You cannot change cases", f"A {user.user.role} user can only read.")


WebUserDep = Annotated[WebUser, Depends(web_user)]
