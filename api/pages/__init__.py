"""Server-rendered pages in the GOV.UK style: the second door into the same rooms as the
JSON API (the pages call the same routes, models and rules)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.pages import auth, cases, docs, manager, respond
from api.pages.render import render
from api.webauth import PageError, SignInRequired

STATIC = Path(__file__).resolve().parent.parent / "static"


def _back(request: Request) -> tuple[str, str]:
    """Where an error page leads: a team's own list in the team portal, else the cases."""
    if request.url.path.startswith("/respond"):
        return "/respond", "Go to your team's advice requests"
    return "/cases", "Go to your cases"


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

    for module in (auth, cases, manager, respond):
        app.include_router(module.router)
    app.include_router(respond.api_router)
