"""Engines and sessions for the case store (SQLite or PostgreSQL, always async)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers queue on SQLite; under a burst some wait seconds


def _sqlite_file(database: str | None) -> Path | None:
    """The file behind a SQLite database name, or None for in-memory databases."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def private_file(path: Path) -> None:
    """Create ``path`` (and its folder) readable and writable by this user only (0600),
    or make an existing one so: the case store holds children's personal data. SQLite
    gives its -wal and -shm files the database file's permissions."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        # Only a new file is opened here: closing a descriptor of a file drops every POSIX
        # lock this process holds on it, SQLite's included, which would let another
        # process take itself for the last connection and remove the WAL under this one.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(0o600)


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``.

    Statement parameters never appear in error messages (they can hold a child's personal
    data). For SQLite the parent folder of the database file is created, and every new
    connection gets WAL journaling (API and worker share the file), a busy timeout and
    enforced foreign keys. Every SQLite transaction is ``BEGIN IMMEDIATE``: a transaction
    that read first and then writes would otherwise fail at once with "database is locked"
    when another writer got in between, instead of waiting for the busy timeout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # 20 + 20 connections: at 20 concurrent starts the default 5 + 10 made requests
        # queue for a connection (docs/performance.md).
        pg_engine = create_async_engine(parsed, hide_parameters=True, pool_size=20, max_overflow=20)
        event.listen(pg_engine.sync_engine, "checkout", _drop_if_closed)
        return pg_engine

    path = _sqlite_file(parsed.database)
    if path is not None:
        private_file(path)
    engine = create_async_engine(parsed, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # The busy timeout first: switching a new file to WAL needs the lock, and without
            # a timeout a concurrent opener fails at once with "database is locked".
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _journal_in_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _journal_in_wal(cursor: Any, attempts: int = 50) -> None:
    """Switch a new SQLite file to WAL journaling (a file already in WAL stays so).

    Two connections switching a new file at the same moment can each hold the lock the
    other needs; SQLite then answers "database is locked" at once instead of waiting for
    the busy timeout (seen with three migrations of a new store at once, about one run
    in 40). The loser waits briefly and tries again; only a new file's first connections
    ever do.
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:  # raised as is through SQLAlchemy's adapter
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no pooled PostgreSQL connection the server has closed (a restart, an idle
    timeout): the pool replaces it with a new one.

    In place of ``pool_pre_ping``, which costs three round trips per checkout on asyncpg
    (``BEGIN``, ``;``, ``ROLLBACK``): asyncpg marks a connection closed as soon as the
    event loop reads the server's goodbye, so asking it costs nothing. A connection that
    dies while it is checked out fails that one request with 503 and the pool is renewed
    (SQLAlchemy's disconnect handling).
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database server closed this connection")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to ``engine``; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def store_session(url: str) -> AsyncIterator[AsyncSession]:
    """One session on the store at ``url`` for a command that runs once, its engine
    disposed of afterwards."""
    engine = make_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def read_outside_a_transaction(session: AsyncSession) -> None:
    """Let ``session``'s first connection run its statements in autocommit on PostgreSQL.

    For a request's identity lookup (one row read before anything else): no ``BEGIN`` and
    ``ROLLBACK`` round trips around it on every request. Call it before the session's
    first statement; the pool restores the connection's isolation level when it is
    released. SQLite keeps its ``BEGIN IMMEDIATE`` (see ``make_engine``), so nothing
    changes there.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
