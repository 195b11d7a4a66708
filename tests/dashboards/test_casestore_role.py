"""Grafana's read-only role on the real PostgreSQL: created exactly as the compose stack does
(psql running dashboards/grafana/casestore-role.sql after the migrations), it runs every
drill-down table's SQL, lists as many rows as the figure it explains counts, and can neither
write anything nor read the child's details or free text."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ehc.directory import load as load_directory_file
from ehc.models import ChildDetails
from ehc.store import advice_requests, metrics_queries, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.metrics_queries import StoreSnapshot
from ehc.store.migrate import upgrade
from ehc.store.tables import UserRow, metadata
from tests.conftest import TEAMS_FILE
from tests.dashboards.conftest import REPO, PanelQuery, load_sql_queries
from tests.dashboards.seed import project_caseload
from tests.ehc.store import conftest as store_conftest

pytestmark = pytest.mark.postgres

SCRIPT = REPO / "dashboards" / "grafana" / "casestore-role.sql"
SEED_CASEWORKER = "Casey Worker"  # user 7 entered the seed caseload's events


@dataclass
class RoleDb:
    role: str
    password: str
    url: Any  # sqlalchemy URL of the fresh database
    snapshot: StoreSnapshot

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            database=self.url.database,
            user=self.role,
            password=self.password,
            timeout=10,
        )


def run_role_script(url: Any, role: str, password: str) -> None:
    """What the compose service grafana-db-role runs, against the test database."""
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": url.database,
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    result = subprocess.run(
        [
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"grafana_role={role}",
            "-v",
            f"grafana_password={password}",
            "-f",
            str(SCRIPT),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
async def role_db() -> AsyncIterator[RoleDb]:
    admin = await store_conftest._postgres_admin()
    name = f"ehc_test_{uuid.uuid4().hex[:12]}"
    # Roles belong to the whole server: a name of its own, so parallel runs do not meet.
    role = f"ehc_grafana_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(store_conftest.POSTGRES_URL).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        await upgrade(url.render_as_string(hide_password=False))
        sessions = sessionmaker(engine)
        async with sessions() as session:
            # The case store's own idea of "today" in England, as the panels' SQL computes it.
            today: date = await session.scalar(
                text("SELECT (now() AT TIME ZONE 'Europe/London')::date")
            )
        async with sessions() as session, session.begin():
            for team in load_directory_file(TEAMS_FILE).teams:
                await advice_requests.save_team(session, team)
            session.add(
                UserRow(
                    id=7,
                    name=SEED_CASEWORKER,
                    role="caseworker",
                    team=None,
                    token_hash="0" * 64,
                    created_at=datetime.now(UTC),
                )
            )
            await repository.save_child(
                session,
                case_ref="SEED-1",
                child=ChildDetails(
                    given_name="Amelia", family_name="Testcase", date_of_birth=date(2015, 3, 4)
                ),
                fingerprint="f" * 64,
            )
        await project_caseload(sessions, today)
        async with sessions() as session:
            snapshot = await metrics_queries.read_snapshot(session, today=today, at_risk_days=14)
        password = uuid.uuid4().hex
        run_role_script(url, role, password)
        run_role_script(url, role, password)  # every `docker compose up` runs it again
        yield RoleDb(role, password, url, snapshot)
    finally:
        await engine.dispose()
        await store_conftest._drop_databases(admin, [name])
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()


SQL = {q.panel: q for q in load_sql_queries()}


async def _rows(db: RoleDb, query: PanelQuery) -> list[asyncpg.Record]:
    conn = await db.connect()
    try:
        return list(await conn.fetch(query.expr))
    finally:
        await conn.close()


@pytest.mark.parametrize("query", load_sql_queries(), ids=lambda q: q.id)
async def test_every_table_panel_runs_as_the_grafana_role(
    role_db: RoleDb, query: PanelQuery
) -> None:
    rows = await _rows(role_db, query)
    for row in rows:
        assert {"Case", "Stage", "Limit", "Due date", "Caseworker"} <= set(row.keys())


async def test_each_table_lists_as_many_cases_as_the_figure_it_explains(role_db: RoleDb) -> None:
    snapshot = role_db.snapshot
    breached = await _rows(role_db, SQL["Cases behind 'Limits breached now'"])
    at_risk = await _rows(
        role_db, SQL["Cases behind 'Limits at risk': due within 14 days and blocked"]
    )
    overdue = await _rows(role_db, SQL["Overdue advice requests (the cases behind the counts)"])
    assert len(breached) == sum(snapshot.limits_breached.values()) == 3
    assert len(at_risk) == sum(snapshot.limits_at_risk.values()) == 1
    assert len(overdue) == sum(snapshot.advice_overdue.values()) == 1
    assert SEED_CASEWORKER in {r["Caseworker"] for r in breached}  # who recorded the case
    [late] = overdue
    assert (late["Agency"], late["Team"]) == ("social_care", "Children's disability team")
    by_limit: dict[str, int] = {}
    for row in breached:
        by_limit[row["Limit"]] = by_limit.get(row["Limit"], 0) + 1
    assert by_limit == {k: v for k, v in snapshot.limits_breached.items() if v}


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO cases (case_ref, stage, received_on, anchor, requested_by, rule_version,"
        " breached, updated_at) VALUES ('X-1', 'drafting', '2025-01-01', 'request', 'parent',"
        " 'base', false, now())",
        "UPDATE limits SET status = 'met'",
        "DELETE FROM events",
        "UPDATE advice_requests SET outcome = 'received'",
        "INSERT INTO users (name, role, token_hash, created_at) VALUES ('x', 'admin', 'h', now())",
        "DELETE FROM teams",
        "SELECT * FROM children",
        "SELECT given_name FROM children",
        "SELECT token_hash FROM users",
        "SELECT text FROM notes",
        "SELECT sections FROM submissions",
        "SELECT recipient FROM notifications",
        "SELECT token_hash FROM team_sign_in_links",
        "SELECT id_hash FROM team_sessions",
        "SELECT viewer FROM access_log",
        "SELECT * FROM cases",  # a column it was not granted (anchor) is refused too
    ],
)
async def test_the_grafana_role_cannot_write_or_read_personal_data(
    role_db: RoleDb, statement: str
) -> None:
    conn = await role_db.connect()
    try:
        # The role's sessions are read-only by default; it could turn that off, so the
        # privileges themselves must refuse.
        await conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_its_sessions_are_read_only_by_default(role_db: RoleDb) -> None:
    conn = await role_db.connect()
    try:
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
    finally:
        await conn.close()


def test_every_store_table_is_accounted_for() -> None:
    """A new table gets no grant unless casestore-role.sql names it: say which here."""
    granted = {"cases", "limits", "advice_requests", "events", "users", "teams"}
    refused = {
        "children",
        "notes",
        "submissions",
        "notifications",
        "exceptions",
        "web_sessions",
        "idempotency_keys",
        "pending_starts",  # the API's bookkeeping of starts: nothing to chart
        "team_sign_in_links",
        "team_sessions",
        "access_log",
        "entry_lag_counts",  # derived from events (granted): the histogram is in /metrics
    }
    assert {t.name for t in metadata.sorted_tables} == granted | refused
    script = SCRIPT.read_text()
    for table in granted:
        assert f"ON {table} TO" in script
    for table in refused:
        assert f"ON {table} TO" not in script
