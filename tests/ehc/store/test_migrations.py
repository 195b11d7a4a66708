"""The Alembic migrations, on SQLite and PostgreSQL (see conftest.backend)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection, make_url

from ehc.store import metrics_queries
from ehc.store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, sessionmaker
from ehc.store.migrate import alembic_config, current_revision, head_revision, upgrade
from ehc.store.tables import CaseRow, EventRow, metadata
from tests.ehc.store.conftest import Backend

TABLES = {
    "cases",
    "children",
    "limits",
    "advice_requests",
    "exceptions",
    "events",
    "notes",
    "users",
    "teams",
    "notifications",
    "submissions",
    "web_sessions",
    "idempotency_keys",
    "pending_starts",
    "team_sign_in_links",
    "team_sessions",
    "access_log",
    "entry_lag_counts",
}
HEAD = "0011"


async def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_metadata_has_every_table() -> None:
    assert set(metadata.tables) == TABLES


async def test_upgrade_creates_every_table_and_repeats_as_a_no_op(backend: Backend) -> None:
    url = await backend.fresh_url()
    assert await current_revision(url) is None
    await upgrade(url)
    assert await table_names(url) == TABLES | {"alembic_version"}
    assert await current_revision(url) == head_revision() == HEAD

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO notes (key, case_ref, text) VALUES ('k', 'C1', 'kept')")
            )
        await upgrade(url)
        await upgrade(url)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT text FROM notes"))).scalar_one() == "kept"
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert [v[0] for v in versions] == [HEAD]
    assert await table_names(url) == TABLES | {"alembic_version"}


async def test_0011_backfills_the_entry_lag_counts_from_the_events(backend: Backend) -> None:
    """Events stored before revision 0011 are counted by it as a recount counts them,
    including an entry at 23:30 UTC in summer (the next day in England)."""
    url = await backend.fresh_url()
    await upgrade(url, "0009")
    engine = make_engine(url)
    rows = [
        (1, "request_received", "2025-03-03", datetime(2025, 3, 5, 23, 30, tzinfo=UTC)),
        (2, "decision_to_assess", "2025-04-07", datetime(2025, 4, 7, 23, 30, tzinfo=UTC)),
        (3, "limit_breached", "2025-04-01", datetime(2025, 4, 9, 9, tzinfo=UTC)),
        (4, "withdrawn", "2025-05-01", datetime(2025, 4, 30, 9, tzinfo=UTC)),
    ]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(CaseRow).values(
                    case_ref="M1",
                    stage="withdrawn",
                    received_on=date(2025, 3, 3),
                    anchor="request",
                    requested_by="parent",
                    rule_version="2014",
                    breached=False,
                    updated_at=datetime(2025, 5, 1, tzinfo=UTC),
                )
            )
            for seq, kind, on, at in rows:
                await conn.execute(
                    insert(EventRow).values(
                        case_ref="M1",
                        seq=seq,
                        kind=kind,
                        occurred_on=date.fromisoformat(on),
                        entered_at=at,
                        entered_by="1",
                        detail={},
                    )
                )
        await upgrade(url)
        async with sessionmaker(engine)() as session:
            kept = await metrics_queries.entry_lag_days(session)
            recounted = await metrics_queries.recount_entry_lag_days(session)
    finally:
        await engine.dispose()
    assert kept == recounted
    assert (kept["request_received"], kept["decision_to_assess"], kept["withdrawn"]) == (
        {2: 1},
        {1: 1},
        {0: 1},
    )


async def test_concurrent_upgrades_are_safe(backend: Backend) -> None:
    url = await backend.fresh_url()
    await asyncio.gather(*(upgrade(url) for _ in range(3)))
    assert await current_revision(url) == HEAD
    assert await table_names(url) == TABLES | {"alembic_version"}


async def test_migration_matches_the_metadata(backend: Backend) -> None:
    def diffs(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with backend.engine.connect() as conn:
        assert await conn.run_sync(diffs) == []


async def test_downgrade_to_base_and_back(backend: Backend) -> None:
    url = await backend.fresh_url()
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            config = alembic_config(url)

            def down(c: Connection) -> None:
                config.attributes["connection"] = c
                command.downgrade(config, "base")

            await conn.run_sync(down)
    finally:
        await engine.dispose()
    assert await table_names(url) == {"alembic_version"}
    await upgrade(url)
    assert await table_names(url) == TABLES | {"alembic_version"}


async def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ehc.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    assert path.parent.is_dir()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
    }


async def test_upgrade_url_is_not_read_from_an_ini(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'ehc.db'}"
    config = alembic_config(url)
    assert config.config_file_name is None
    assert config.attributes["url"] == url
    assert make_url(url).database is not None
    await upgrade(url)
    assert await current_revision(url) == HEAD
