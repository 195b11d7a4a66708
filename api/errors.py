"""Every error the API returns is ``{"error": code, "detail": sentence}``; never a traceback.

Parser failures read as whole sentences (what is wrong and what is allowed), a body that is
not JSON is 415, a 405 says which methods the path allows (``Allow``), a 401 says how to
authenticate (``WWW-Authenticate``), and a 503 says when to retry (``Retry-After``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehc.logging import get_logger

log = get_logger(__name__)

RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error with a status, a stable code and a sentence a caseworker understands."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class ErrorBody(BaseModel):
    """What every error response holds (the OpenAPI document declares it for each status)."""

    error: str = Field(description="A stable code, e.g. not_found, invalid_input, unavailable")
    detail: str = Field(description="One or more sentences a caseworker understands")
    fields: list[str] | None = Field(
        default=None, description="On invalid input: one sentence per field that is wrong"
    )
    problems: list[str] | None = Field(
        default=None, description="On a missing input: every missing or invalid section"
    )


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"No {what} was found with that reference.")


def unavailable(detail: str) -> ApiError:
    """503 with ``Retry-After``: Temporal, the worker or the store did not answer in time."""
    return ApiError(503, "unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def store_unavailable(exc: DBAPIError) -> ApiError | None:
    """The 503 for a store error that a retry gets past: the store did not answer in time,
    or it closed the connection under the request (a restart; the pool has dropped the
    connection, so the retry runs on a new one), logged by its kind. None for any other
    driver error."""
    if isinstance(exc, OperationalError):
        log.warning("store_unavailable", error_type=type(exc.orig).__name__)
        return unavailable("The case store did not answer in time; try again in a few seconds.")
    if exc.connection_invalidated:
        log.warning("store_connection_lost", error_type=type(exc.orig).__name__)
        return unavailable(
            "The case store restarted during this request. Send it again in a few seconds: "
            "a repeated request is recorded only once."
        )
    return None


def _location(err: dict[str, Any]) -> str:
    return ".".join(
        str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")
    )


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _field_sentence(err: dict[str, Any]) -> str:
    """One parser error as a whole sentence: which field, what is wrong, what is allowed."""
    location = _location(err)
    kind = str(err.get("type", ""))
    message = str(err.get("msg", "is invalid"))
    ctx = err.get("ctx") or {}
    if kind == "json_invalid":
        position = err.get("loc", ("body", 0))[-1]
        return (
            f"The request body is not valid JSON ({ctx.get('error', 'decode error')} "
            f"near character {position}); send one JSON object."
        )
    if not location:
        if kind == "missing":
            return "The request needs a JSON body; send one JSON object."
        if kind in ("model_attributes_type", "dict_type", "model_type"):
            return 'The request body must be one JSON object, like {"field": "value"}.'
        return _sentence(f"The request body is not valid: {message}")
    if kind == "missing":
        return f"'{location}' is required."
    if kind == "extra_forbidden":
        return f"'{location}' is not a field this request accepts; leave it out."
    if kind == "value_error":
        return _sentence(f"'{location}': {message.removeprefix('Value error, ')}")
    if kind.startswith("date_"):
        return f"'{location}' must be a real date written YYYY-MM-DD, like 2024-09-02."
    return _sentence(f"'{location}' is not valid: {message}")


def _error(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "detail": detail, **extra}, status_code=status, headers=headers
    )


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _wrong_media_type(request: Request, exc: RequestValidationError) -> bool:
    """The route wanted a JSON body and was sent something else (a form, text, a file)."""
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    at_body = any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors())
    return has_body and at_body and not _is_json(request)


def _walk(routes: Any) -> Any:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI's included routers keep theirs
            yield from _walk(inner.routes)
        else:
            yield route


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers on this path (for a 405's ``Allow``)."""
    methods: set[str] = set()
    for route in _walk(app.router.routes):
        route_methods = getattr(route, "methods", None)
        regex = getattr(route, "path_regex", None)
        if route_methods and regex is not None and regex.match(path):
            methods |= set(route_methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail, exc.headers or None, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _wrong_media_type(request, exc):
            return _error(
                415,
                "unsupported_media_type",
                "Send the request body as JSON with the header 'Content-Type: application/json'.",
            )
        sentences = list(dict.fromkeys(_field_sentence(dict(e)) for e in exc.errors()))
        return _error(422, "invalid_input", " ".join(sentences), fields=sentences)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods = allowed_methods(app, request.url.path) or [request.method]
            headers["Allow"] = ", ".join(methods)
            detail = f"This address does not accept {request.method}; it accepts " + (
                ", ".join(methods) + "."
            )
            return _error(405, "method_not_allowed", detail, headers)
        if exc.status_code == 404:
            return _error(404, "not_found", "There is nothing at this address.", headers or None)
        if exc.status_code == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        codes = {401: "unauthorised"}
        return _error(
            exc.status_code,
            codes.get(exc.status_code, "error"),
            _sentence(str(exc.detail)),
            headers or None,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        return _error(
            422,
            "date_out_of_range",
            "A date is too far in the future to work deadlines out from; use a date before 2100.",
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Never echo the database's message: it can quote a row (a child's details).
        return _error(
            409, "conflict", "That conflicts with something already recorded; nothing was changed."
        )

    @app.exception_handler(DBAPIError)
    async def _store_error(_: Request, exc: DBAPIError) -> JSONResponse:
        error = store_unavailable(exc)
        if error is None:
            raise exc  # unexpected: 500 from UnexpectedErrors
        return _error(error.status, error.error, error.detail, error.headers)

    app.add_middleware(UnexpectedErrors)


class UnexpectedErrors:
    """Answer 500 without letting the server log a traceback: exception messages can carry
    personal data (a database error quoting a row, a value in a message).

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs every request through a task group and memory streams, a
    large share of the API's CPU per request (docs/performance.md, Starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.error("unexpected_error", error_type=type(exc).__name__, path=scope.get("path"))
            if started:
                return  # the answer is under way; the server closes the connection
            response = _error(
                500, "internal_error", "Something went wrong on our side; please try again."
            )
            await response(scope, receive, send)
