"""Server-rendered pages in the GOV.UK style: the second door into the same rooms as the
JSON API (the pages call the same routes, models and rules)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError

from api.errors import store_unavailable
from api.pages import auth, cases, docs, manager, respond
from api.pages.render import render
from api.webauth import PageError, SignInRequired

STATIC = Path(__file__).resolve().parent.parent / "static"


def _back(request: Request) -> tuple[str, str]:
    """Where an error page leads: a team's own list in the team portal, else the cases."""
    if request.url.path.startswith("/respond"):
        return "/respond", "Go to your team's advice requests"
    return "/cases", "Go to your cases"


def _wants_a_page(request: Request) -> bool:
    """A browser's navigation or form post asks for HTML; an API client does not."""
    return "text/html" in request.headers.get("accept", "")


def _store_errors_as_pages(app: FastAPI) -> None:
    """A store outage answers a browser with the service's error page, an API client
    with the JSON answer of ``api.errors`` (installed before the pages)."""
    as_json = app.exception_handlers[DBAPIError]

    @app.exception_handler(DBAPIError)
    async def _store_error(request: Request, exc: DBAPIError) -> Response:
        if not _wants_a_page(request):
            answer = as_json(request, exc)
            return answer if isinstance(answer, Response) else await answer
        error = store_unavailable(exc)
        if error is None:
            raise exc  # unexpected: 500 from api.errors.UnexpectedErrors
        page = render(
            request,
            "error.html",
            {
                "title": "Sorry, there is a problem with the service",
                "detail": error.detail,
                "back": _back(request),
            },
            status_code=error.status,
        )
        page.headers.update(error.headers or {})
        return page


def install(app: FastAPI) -> None:
    """Mount the GOV.UK Frontend assets and the page routes on ``app``."""
    docs.install(app)
    app.mount("/assets", StaticFiles(directory=STATIC / "govuk" / "assets"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(exc.next_path, status_code=303)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render(
            request,
            "error.html",
            {"title": exc.title, "detail": exc.detail, "back": _back(request)},
            status_code=exc.status,
        )

    _store_errors_as_pages(app)
    for module in (auth, cases, manager, respond):
        app.include_router(module.router)
    app.include_router(respond.api_router)
