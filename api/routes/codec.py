"""The codec endpoint the Temporal Web UI calls to show decoded payloads (admins only).

The UI posts ``{"payloads": [...]}`` (Temporal's JSON form of ``Payloads``) to
``/codec/decode`` and shows what comes back. Two kinds of caller are let in, both admins:

- the Temporal Web UI in a browser where an admin is signed in to our pages: the UI sends
  the browser's cookies (its Codec Server setting "Include cross-origin credentials"), so
  the staff session cookie (``api.webauth``) says who it is. A cookie is only believed on
  a request whose ``Origin`` is the UI's (``Settings.temporal_ui_url``): another site
  cannot make a signed-in admin's browser decode for it (CSRF), and the CORS headers
  name that one origin, with credentials allowed, never ``*``;
- a program with an admin's bearer token (``Authorization: Bearer ...``), from any origin
  or none.

Anyone else gets 401 or 403 and no decoded data; the UI then shows the payloads still
encrypted. ``make dev`` starts the UI with ``--ui-codec-endpoint http://<api>/codec``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import Clock, SessionDep, current_user
from api.errors import ApiError
from api.webauth import COOKIE
from ehc.codec import CodecError, EncryptionCodec
from ehc.models import User
from ehc.settings import Settings
from ehc.store import accounts

router = APIRouter(prefix="/codec", tags=["service"], include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)


def _allowed_origin(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.temporal_ui_url.rstrip("/")


def _cors(request: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": _allowed_origin(request),
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _refuse(request: Request, status: int, error: str, detail: str) -> ApiError:
    headers = _cors(request)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return ApiError(status, error, detail, headers=headers)


async def _signed_in_user(request: Request, session: SessionDep) -> User | None:
    """The member of staff whose session cookie came with this request, if any."""
    clock: Clock = request.app.state.clock
    found = await accounts.session_user(
        session, cookie=request.cookies.get(COOKIE, ""), now=clock()
    )
    await session.rollback()
    return found[0] if found is not None else None


async def codec_admin(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """An admin, known by bearer token or, from the Temporal UI's origin, by session cookie."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != _allowed_origin(request):
        raise _refuse(
            request,
            403,
            "forbidden",
            f"The codec endpoint answers only the Temporal Web UI at {_allowed_origin(request)}.",
        )
    if "authorization" in request.headers:
        user = await current_user(request, session, credentials)
    elif origin is not None and COOKIE in request.cookies:
        signed_in = await _signed_in_user(request, session)
        if signed_in is None:
            raise _refuse(request, 401, "unauthorised", "Your sign-in has expired: sign in again.")
        user = signed_in
    else:
        raise _refuse(
            request,
            401,
            "unauthorised",
            "Sign in to the case pages as an admin in this browser, or send an admin's "
            "token as 'Authorization: Bearer <token>'.",
        )
    if user.role != "admin":
        raise _refuse(request, 403, "forbidden", f"A {user.role} user cannot decode payloads.")
    return user


Admin = Annotated[User, Depends(codec_admin)]


@router.options("/{action}")
async def preflight(action: str, request: Request) -> Response:
    """The UI's CORS preflight: it may post JSON with a token and a namespace. Another
    origin gets no CORS headers, so its browser never sends the request."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin != _allowed_origin(request):
        return Response(status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            **_cors(request),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": (
                "Authorization, Authorization-Extras, Content-Type, X-Namespace"
            ),
            "Access-Control-Max-Age": "600",
        },
    )


def _payloads(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ApiError(
            422, "invalid_input", 'Send {"payloads": [...]} as the Temporal UI does.'
        ) from exc


@router.post("/decode")
async def decode(
    request: Request, user: Admin, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    codec: EncryptionCodec = request.app.state.codec
    try:
        decoded = await codec.decode(list(_payloads(body).payloads))
    except CodecError as exc:
        raise ApiError(422, "cannot_decode", f"{exc}.") from exc
    out = json_format.MessageToDict(Payloads(payloads=decoded))
    return JSONResponse({"payloads": out.get("payloads", [])}, headers=_cors(request))


@router.post("/encode")
async def encode(
    request: Request, user: Admin, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    codec: EncryptionCodec = request.app.state.codec
    encoded = await codec.encode(list(_payloads(body).payloads))
    out = json_format.MessageToDict(Payloads(payloads=encoded))
    return JSONResponse({"payloads": out.get("payloads", [])}, headers=_cors(request))
