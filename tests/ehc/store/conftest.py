"""The case store on both databases it supports.

``backend`` is session-scoped and parametrized: a migrated SQLite file in a temporary
folder, and a fresh PostgreSQL database (``ehc_test_<random>``, dropped at the end) made on
the server at ``EHC_TEST_POSTGRES_URL``. If that server is unreachable the PostgreSQL
tests are skipped, or fail when ``CI`` is set. ``db`` empties every table before a test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ehc.case_evaluation import rule_version_for
from ehc.models import (
    AdviceRequestView,
    CaseView,
    EventView,
    ExceptionView,
    LimitView,
    RequestedBy,
    Stage,
)
from ehc.statutory import REGULATION, STATUTORY, Agency, Anchor, Limit, LimitStatus
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.store.tables import metadata

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("EHC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@dataclass
class Backend:
    """One database server the store runs on, with a migrated database for the session."""

    name: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tmp: Path
    admin: AsyncEngine | None = None
    extra_databases: list[str] = field(default_factory=list)

    async def fresh_url(self) -> str:
        """A URL for a new, empty database on this backend (not migrated)."""
        if self.admin is None:
            return f"sqlite+aiosqlite:///{self.tmp / uuid.uuid4().hex / 'nested' / 'ehc.db'}"
        name = f"ehc_test_{uuid.uuid4().hex[:12]}"
        async with self.admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.extra_databases.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


_unreachable: list[str] = []  # why PostgreSQL could not be reached, once known


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests must run)")
    pytest.skip(f"{reason}; start it or set EHC_TEST_POSTGRES_URL")


async def _postgres_admin() -> AsyncEngine:
    """An autocommit engine on the maintenance database, or skip/fail if unreachable."""
    if _unreachable:
        _skip_or_fail(_unreachable[0])
    admin = create_async_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        await admin.dispose()
        _unreachable.append(
            f"PostgreSQL unreachable at {make_url(POSTGRES_URL)!r}: {type(exc).__name__}"
        )
        _skip_or_fail(_unreachable[0])
    return admin


async def _drop_databases(admin: AsyncEngine, names: Iterable[str]) -> None:
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    tmp = tmp_path_factory.mktemp(f"store-{request.param}")
    admin: AsyncEngine | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'var' / 'ehc.db'}"
        databases: list[str] = []
    else:
        admin = await _postgres_admin()
        name = f"ehc_test_{uuid.uuid4().hex[:12]}"
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        databases = [name]
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine: AsyncEngine | None = None
    try:
        await upgrade(url)
        engine = make_engine(url)
        b = Backend(request.param, url, engine, sessionmaker(engine), tmp, admin, databases)
        yield b
    finally:
        if engine is not None:
            await engine.dispose()
        if admin is not None:
            await _drop_databases(admin, databases)
            await admin.dispose()


@pytest.fixture
async def db(backend: Backend) -> async_sessionmaker[AsyncSession]:
    """The session factory of a store with every table emptied."""
    async with backend.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    return backend.sessions


# --- building case views ------------------------------------------------------------------

TODAY = date(2025, 3, 3)
ENTERED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def limit_view(
    limit: Limit = Limit.FINAL_PLAN,
    *,
    due_on: date,
    status: LimitStatus = LimitStatus.PENDING,
    met_on: date | None = None,
    advice_id: str | None = None,
    blocked_by: str | None = None,
    statutory: bool | None = None,
    exceptions: list[str] | None = None,
) -> LimitView:
    return LimitView(
        limit=limit,
        regulation=REGULATION[limit],
        statutory=STATUTORY[limit] if statutory is None else statutory,
        rule_version=rule_version_for(due_on),  # as the workflow shows it (rules.md 8.7)
        family=limit is Limit.DRAFT_REPRESENTATIONS,
        due_on=due_on,
        met_on=met_on,
        status=status,
        advice_id=advice_id,
        exceptions=exceptions or [],
        blocked_by=blocked_by,
    )


def event_view(seq: int, kind: str = "note", *, entered_at: datetime = ENTERED_AT) -> EventView:
    return EventView(
        seq=seq,
        kind=kind,
        occurred_on=TODAY - timedelta(days=30 - seq),
        entered_at=entered_at + timedelta(minutes=seq),
        entered_by="7",
        detail={"seq": str(seq)},
    )


def advice_view(
    advice_id: str, *, status: LimitStatus = LimitStatus.PENDING, team: str | None = "chc"
) -> AdviceRequestView:
    return AdviceRequestView(
        id=advice_id,
        agency=Agency.HEALTH,
        team=team,
        regulation="SEND Regs 2014 reg 8(1)",
        requested_on=TODAY - timedelta(days=10),
        received_by_adviser_on=TODAY - timedelta(days=9),
        due_on=TODAY + timedelta(days=33),
        advice_received_on=TODAY if status is LimitStatus.MET else None,
        status=status,
    )


def case_view(
    case_ref: str,
    *,
    stage: Stage = Stage.GATHERING_ADVICE,
    limits: list[LimitView] | None = None,
    events: int | list[EventView] = 1,
    advice: list[AdviceRequestView] | None = None,
    exceptions: list[ExceptionView] | None = None,
    breached: bool = False,
    received_on: date = TODAY - timedelta(days=40),
) -> CaseView:
    """A case view with sensible defaults; pass only what a test is about."""
    limits = limits if limits is not None else []
    if isinstance(events, int):
        events = [event_view(i) for i in range(1, events + 1)]
    pending = [lv.due_on for lv in limits if lv.status is LimitStatus.PENDING and lv.statutory]
    return CaseView(
        case_ref=case_ref,
        stage=stage,
        received_on=received_on,
        anchor=Anchor.REQUEST,
        requested_by=RequestedBy.PARENT,
        rule_version="2014",
        as_of=TODAY,
        limits=limits,
        advice_requests=advice or [],
        exceptions=exceptions or [],
        flags=[],
        events=events,
        next_due_on=min(pending) if pending else None,
        breached=breached,
    )
