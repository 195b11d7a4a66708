"""The FastAPI application: routes per resource, one Settings, errors a caseworker reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import stored_cases
from api.deps import Clock, system_clock
from api.errors import install_error_handlers
from api.guards import install_guards
from api.openapi import install_openapi
from api.pages import install as install_pages
from api.routes import advice, assessments, codec, health, reports, teams, timescales, users
from ehc.directory import Directory, load
from ehc.settings import Settings, get_settings
from ehc.store.db import make_engine, sessionmaker
from ehc.temporal import connect, payload_codec
from ehc.version import RELEASE

DESCRIPTION = """
Statutory deadlines for EHC needs assessments (SEND Regulations 2014).

Authenticate with `Authorization: Bearer <token>` (`ehc users create` prints one).
Dates are `YYYY-MM-DD` and mean the day something happened, not the day it was entered.
Errors are `{"error": "<code>", "detail": "<sentence>"}`. Send an `Idempotency-Key`
header when retrying a POST: the event is recorded once.
"""


def load_directory(settings: Settings) -> Directory:
    """The agencies' policies and templates; an absent file means built-in defaults."""
    if not settings.teams_file.exists():
        return Directory()
    return load(settings.teams_file)


def create_app(
    settings: Settings | None = None,
    *,
    temporal: Client | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    clock: Clock = system_clock,
) -> FastAPI:
    """Build the app; tests pass their own Temporal client, store and clock."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if sessions is None:
            engine = make_engine(settings.effective_database_url)
            app.state.sessions = sessionmaker(engine)
        if temporal is None:
            app.state.temporal = await connect(
                settings.temporal_address, settings.temporal_namespace, settings=settings
            )
        yield
        if engine is not None:
            await engine.dispose()

    production = settings.environment == "production"
    app = FastAPI(
        title="ehc-timeliness",
        version=RELEASE,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is served from the app itself by api.pages.docs (no CDN), and only outside
        # production, like the OpenAPI document: they map the API for anyone who can reach it.
        docs_url=None,
        redoc_url=None,
        openapi_url=None if production else "/openapi.json",
    )
    app.state.settings = settings
    app.state.directory = load_directory(settings)
    app.state.clock = clock
    app.state.sessions = sessions
    app.state.temporal = temporal
    app.state.codec = payload_codec(settings)
    install_error_handlers(app)
    install_guards(app, settings)
    stored_cases.install(app)
    health.install_http_metrics(app)
    for module in (health, timescales, assessments, advice, teams, reports, users, codec):
        app.include_router(module.router)
    install_pages(app)
    install_openapi(app)
    return app
