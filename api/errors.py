"""Every error the API returns is ``{"error": code, "detail": sentence}``; never a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ehc.logging import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    """An error with a status, a stable code and a sentence a caseworker understands."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"No {what} was found with that reference.")


def _field_sentence(err: dict[str, Any]) -> str:
    location = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
    message = str(err.get("msg", "is invalid"))
    if err.get("type") == "missing":
        return f"{location} is required."
    if "date" in str(err.get("type", "")):
        given = err.get("input")
        return f"{location}: '{given}' is not a real date; use YYYY-MM-DD."
    return f"{location}: {message}."


def _error(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        sentences = [_field_sentence(dict(e)) for e in exc.errors()]
        return _error(422, "invalid_input", " ".join(sentences), fields=sentences)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorised"}
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))

    @app.middleware("http")
    async def _unexpected(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Answer 500 without letting the server log a traceback: exception messages can
        carry personal data (a database error quoting a row, a value in a message)."""
        try:
            return await call_next(request)
        except Exception as exc:
            log.error("unexpected_error", error_type=type(exc).__name__, path=request.url.path)
            return _error(
                500, "internal_error", "Something went wrong on our side; please try again."
            )
