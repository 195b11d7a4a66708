"""What every request passes through before a route sees it, and every response after.

- A body larger than ``max_body_bytes`` (1 MB by default) is refused with 413, whether it
  announces its length or streams; JSON nested deeper than ``max_json_depth`` with 422.
- An ``Idempotency-Key`` sent again with a different body for the same case and command
  (the same method and path) is refused with 422 ``idempotency_key_reused``: a retry must
  repeat its request exactly, so a 2xx always means the data sent was recorded.
- Each request gets one budget for its calls to Temporal (``api.temporal_gateway``).
- Every response carries security headers, and ``Cache-Control: no-store`` unless the
  route chose its own caching: responses hold children's personal data.

A plain ASGI middleware, so it sees streamed bodies and adds headers to every response,
errors included.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import temporal_gateway
from api.errors import RETRY_AFTER_SECONDS
from ehc.logging import get_logger
from ehc.settings import Settings
from ehc.store import case_refs, idempotency

log = get_logger(__name__)

WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 200
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
# Paths that carry a case reference: /assessments/{ref}... and /advice-requests/{ref}-adv{n}...
_CASE_PATH = re.compile(r"^(/assessments/)([^/]+)(/.*)?$")
_ADVICE_PATH = re.compile(r"^(/advice-requests/)([^/]+)(-adv\d+(?:/.*)?)$")

JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HTML_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# FastAPI's /docs page loads Swagger UI from its CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def json_depth(body: bytes, limit: int) -> int:
    """How deeply ``body`` nests, counted up to ``limit + 1`` (strings are skipped, so a
    bracket inside a string does not count). Linear, and never recursive."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return 0
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        else:
            depth -= 1
    return deepest


def body_hash(body: bytes) -> str:
    """A hash of what a body says, not how it is spaced: canonical JSON when it parses."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _csp_for(path: str, content_type: bytes) -> bytes:
    if path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        return DOCS_CSP.encode()
    if content_type.startswith(b"text/html"):
        return HTML_CSP.encode()
    return JSON_CSP.encode()


class TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        temporal_gateway.start_budget(self.settings.temporal_deadline_seconds)
        send = self._with_headers(scope, send)
        scope = await _case_insensitive(scope)
        if scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return

        limit = self.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _refuse_too_large(send, limit)
            return
        try:
            body = await _read_body(receive, limit)
        except TooLarge:
            await _refuse_too_large(send, limit)
            return
        if (
            body
            and _is_json(scope)
            and json_depth(body, self.settings.max_json_depth) > (self.settings.max_json_depth)
        ):
            await send_error(
                send,
                422,
                "too_deeply_nested",
                f"The request body nests more than {self.settings.max_json_depth} levels "
                "deep; no request of this API needs that many.",
            )
            return
        replay = _replaying(body, receive)

        key = _header(scope, b"idempotency-key")
        if key is None or scope["method"] == "DELETE":
            await self.app(scope, replay, send)
            return
        if not _KEY.match(key):
            await send_error(
                send,
                422,
                "invalid_idempotency_key",
                f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible characters "
                "(letters, digits and punctuation, no spaces).",
            )
            return
        await self._with_idempotency(scope, replay, send, key, body)

    async def _with_idempotency(
        self, scope: Scope, receive: Receive, send: Send, key: str, body: bytes
    ) -> None:
        sessions: async_sessionmaker[AsyncSession] | None = getattr(
            scope["app"].state, "sessions", None
        )
        if sessions is None:
            await self.app(scope, receive, send)
            return
        where = f"{scope['method']} {scope['path']}"[:300]
        digest = body_hash(body)
        try:
            async with sessions() as session:
                claimed = await idempotency.claim(
                    session, scope=where, key=key, body_hash=digest, now=datetime.now(UTC)
                )
                await session.commit()
        except SQLAlchemyError as exc:
            log.warning("idempotency_store_unavailable", error_type=type(exc).__name__)
            await send_error(
                send,
                503,
                "unavailable",
                "The case store did not answer; nothing was recorded. Try again shortly.",
                retry_after=True,
            )
            return
        if claimed == "reused":
            await send_error(
                send,
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already sent with a different request body for "
                "this case and action; nothing was recorded. Repeat the first request "
                "exactly, or use a new key for a new request.",
            )
            return

        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            # A refused request recorded nothing: free its key for a corrected body. A 2xx,
            # a 503 (the case may still record it) or a 5xx keeps the claim.
            if claimed == "new" and 400 <= status < 500:
                await _release(sessions, where, key, digest)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                content_type = next(
                    (bytes(v).lower() for k, v in headers if bytes(k).lower() == b"content-type"),
                    b"",
                )
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", _csp_for(path, content_type)))
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + extra}
            await send(message)

        return send_with_headers


async def _case_insensitive(scope: Scope) -> Scope:
    """Case references match whatever the letter case: a path naming ``ehc-1`` reaches the
    case stored as ``EHC-1`` (the store refuses a second case under a variant of a ref).
    Only a reference with small letters is looked up, so canonical paths cost nothing."""
    path: str = scope.get("path", "")
    match = _CASE_PATH.match(path) or _ADVICE_PATH.match(path)
    if match is None or not any(c.islower() for c in match.group(2)):
        return scope
    sessions: async_sessionmaker[AsyncSession] | None = getattr(
        scope["app"].state, "sessions", None
    )
    if sessions is None:
        return scope
    try:
        async with sessions() as session:
            stored = await case_refs.stored_ref(session, case_ref=match.group(2))
    except SQLAlchemyError:
        return scope  # the route answers as it would have (503 if the store is down)
    if stored is None or stored == match.group(2):
        return scope
    new_path = f"{match.group(1)}{stored}{match.group(3) or ''}"
    return {**scope, "path": new_path, "raw_path": new_path.encode()}


async def _release(
    sessions: async_sessionmaker[AsyncSession], where: str, key: str, digest: str
) -> None:
    try:
        async with sessions() as session:
            await idempotency.release(session, scope=where, key=key, body_hash=digest)
            await session.commit()
    except SQLAlchemyError as exc:  # the claim stays; the same body can still be retried
        log.warning("idempotency_release_failed", error_type=type(exc).__name__)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse_too_large(send: Send, limit: int) -> None:
    await send_error(
        send,
        413,
        "body_too_large",
        f"The request body is larger than {_size(limit)}, the most this API accepts; "
        "send less (a contribution's sections are text, not files).",
    )


def _size(limit: int) -> str:
    if limit >= 1_000_000 and limit % 1_000_000 == 0:
        return f"{limit // 1_000_000} MB"
    if limit >= 1000:
        return f"{limit / 1000:g} kB"
    return f"{limit} bytes"


async def send_error(
    send: Send, status: int, error: str, detail: str, *, retry_after: bool = False
) -> None:
    """Answer with the API's error body from outside the app (before any route ran)."""
    payload: dict[str, Any] = {"error": error, "detail": detail}
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_guards(app: Any, settings: Settings) -> None:
    app.add_middleware(RequestGuard, settings=settings)
