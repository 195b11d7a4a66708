"""Starting a case through the API on the production store, PostgreSQL, where the case's
first rows are one statement that commits itself (``ehc.store.opening_pg``). The other API
tests run on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.testing import WorkflowEnvironment

from ehc.store import opening_pg, tables
from ehc.store.db import make_engine, read_outside_a_transaction, sessionmaker
from ehc.store.migrate import upgrade
from tests.api.scenarios import new_case_body
from tests.conftest import MailServer, Stack, make_tokens, open_stack
from tests.ehc.store.conftest import POSTGRES_URL, _drop_databases, _postgres_admin
from tests.waiting import eventually


@pytest.fixture
async def pg_stack(ts_env: WorkflowEnvironment, mail_server: MailServer) -> AsyncIterator[Stack]:
    admin = await _postgres_admin()
    name = f"ehc_test_{uuid.uuid4().hex[:12]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        await upgrade(url)
        sessions = sessionmaker(engine)
        tokens = await make_tokens(sessions)
        stacks = contextlib.asynccontextmanager(open_stack)
        async with stacks(ts_env, sessions, tokens, smtp_port=mail_server.port) as stack:
            yield stack
    finally:
        await engine.dispose()
        await _drop_databases(admin, [name])
        await admin.dispose()


async def _rows(s: Stack, row: type[tables.Base], ref: str) -> int:
    column = row.__table__.c.case_ref
    async with s.sessions() as session:
        return int(await session.scalar(select(func.count()).where(column == ref)) or 0)


async def test_a_case_starts_once_and_its_reference_is_kept_on_postgresql(pg_stack: Stack) -> None:
    s = pg_stack
    body = new_case_body(await s.today())
    ref = body["case_ref"]

    first = await s.post("/assessments", body)
    assert first.status_code == 201, first.text
    assert first.json()["child"]["family_name"] == "Testcase"
    again = await s.post("/assessments", body)  # a retry of the same request
    assert again.status_code == 200, again.text
    assert again.json()["case_ref"] == ref

    other_child = {**body, "child": {**body["child"], "given_name": "Someone Else"}}
    taken = await s.post("/assessments", other_child)
    assert (taken.status_code, taken.json()["error"]) == (409, "case_ref_taken")
    variant = await s.post("/assessments", {**body, "case_ref": ref.lower()})
    assert (variant.status_code, variant.json()["error"]) == (409, "case_ref_taken")
    assert "capital or small letters" in variant.json()["detail"]

    # The worker's first projection takes over the case: its pending start is cleared.
    await eventually(lambda: _rows(s, tables.PendingStartRow, ref), until=lambda n: n == 0)
    for row in (tables.ChildRow, tables.CaseRow, tables.EventRow):
        assert await _rows(s, row, ref) == 1, row.__tablename__
    read = await s.get(f"/assessments/{ref}")
    assert read.status_code == 200, read.text
    assert read.json()["stage"] == first.json()["stage"]


async def test_a_store_restart_under_a_request_answers_503_and_the_retry_starts_the_case(
    pg_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends the connection a request holds, between its checkout and the
    case's statement (as in a restart): the caseworker is told to try again (503 with
    Retry-After), not shown an error, and the retry of the same request starts the case."""
    s = pg_stack
    admin = await _postgres_admin()

    async def autocommit_then_restart(session: AsyncSession) -> None:
        await read_outside_a_transaction(session)
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)  # the API's event loop reads the server's goodbye

    monkeypatch.setattr(opening_pg, "read_outside_a_transaction", autocommit_then_restart)
    body = new_case_body(await s.today())
    try:
        lost = await s.post("/assessments", body)
    finally:
        monkeypatch.undo()
        await admin.dispose()
    assert (lost.status_code, lost.json()["error"]) == (503, "unavailable"), lost.text
    assert "Retry-After" in lost.headers
    assert "Send it again" in lost.json()["detail"]
    retry = await s.post("/assessments", body)
    assert retry.status_code == 201, retry.text
