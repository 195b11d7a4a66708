"""Bring the case store's schema up to date: ``await upgrade(url)``.

Runs Alembic's ``upgrade head`` programmatically through the async engine (no
``alembic.ini`` needed), so it works from inside a running event loop. It is safe to call
repeatedly and from several processes at once: PostgreSQL serialises upgrades with an
advisory lock, SQLite with ``BEGIN IMMEDIATE``; a database already at head is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ehc.store.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock held while migrating.
_PG_LOCK_ID = 0x4548_4353_544F_5245  # "EHCSTORE"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the store's migrations; ``url`` travels in its attributes."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.attributes["url"] = url
    return config


def head_revision() -> str | None:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys off while migrating, as batch migrations (copy and rename a table) need.

    ``make_engine`` already makes every SQLite transaction ``BEGIN IMMEDIATE``, so the whole
    upgrade is one transaction and a concurrent upgrade waits, then finds the schema at head.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=OFF")
        finally:
            cursor.close()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(url: str, revision: str = "head") -> None:
    """Run ``alembic upgrade <revision>`` (default head) on the database at ``url``."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        _prepare_sqlite(engine)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})"))
            await connection.run_sync(_upgrade, alembic_config(url), revision)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None before the first upgrade)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()
