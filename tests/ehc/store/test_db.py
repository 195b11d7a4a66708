"""Engines for the case store (``ehc.store.db``)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ehc.store.db import make_engine
from tests.ehc.store.conftest import POSTGRES_URL, _drop_databases, _postgres_admin


async def test_a_connection_the_database_server_closed_is_not_handed_out() -> None:
    """After PostgreSQL restarts (here: every connection to the database terminated), the
    next request's statement runs on a new connection instead of failing on a dead one."""
    admin = await _postgres_admin()
    name = f"ehc_test_{uuid.uuid4().hex[:12]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    try:
        async with engine.connect() as conn:  # a connection now waits in the pool
            assert await conn.scalar(text("SELECT 1")) == 1
        async with admin.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        await asyncio.sleep(0.2)  # the event loop reads the server's goodbye
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 2")) == 2
    finally:
        await engine.dispose()
        await _drop_databases(admin, [name])
        await admin.dispose()
