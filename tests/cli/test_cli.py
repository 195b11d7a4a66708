"""The `ehc` command as a council's administrator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ehc.settings import Settings
from ehc.store import tables
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc_cli.store_admin import rebuild
from tests.api.scenarios import create_case, weeks
from tests.conftest import Stack

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop


def ehc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ehc_cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_timescales_json_gives_the_statutory_dates() -> None:
    result = ehc("timescales", "--received-on", "2024-09-02", "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert (view["decision_to_assess"], view["no_plan_notice"], view["final_plan"]) == (
        "2024-10-14",
        "2024-12-23",
        "2025-01-20",
    )


def test_timescales_text_and_bad_dates() -> None:
    text = ehc("timescales", "--received-on", "2024-09-02", "--anchor", "brought_to_attention")
    assert "Mon 20 Jan 2025" in text.stdout
    bad = ehc("timescales", "--received-on", "2024-02-30")
    assert bad.returncode == 2
    assert "not a real date" in bad.stderr
    assert "Traceback" not in bad.stderr
    early = ehc("timescales", "--received-on", "2010-01-01")
    assert early.returncode == 2
    assert "1 September 2014" in early.stderr


def test_users_create_prints_a_token_that_is_stored_hashed(tmp_path: Path) -> None:
    env = {"EHC_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = ehc("users", "create", "--role", "manager", "--name", "Pat Manager", env=env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) > 30
    assert token.encode() not in (tmp_path / "ehc.db").read_bytes()
    missing_team = ehc("users", "create", "--role", "team", "--name", "CAMHS", env=env)
    assert missing_team.returncode == 2
    assert "--team" in missing_team.stderr


async def test_store_rebuild_restores_the_projection_from_the_workflows(
    dev_stack: Stack, tmp_path: Path
) -> None:
    """Listing workflows needs visibility: the real dev server, not the test server."""
    s = dev_stack
    ref = (await create_case(s, await s.today() - weeks(8)))["case_ref"]
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    await upgrade(url)
    target = s.env.client.service_client.config.target_host
    settings = Settings(temporal_address=target, database_url=url, temporal_task_queue=s.task_queue)
    report = await rebuild(settings)
    assert (report.rebuilt, report.unreadable, report.kept) == (1, [], [])
    engine = make_engine(url)
    async with sessionmaker(engine)() as session:
        status = await session.scalar(
            select(tables.LimitRow.status).where(
                tables.LimitRow.case_ref == ref, tables.LimitRow.limit_key == "decision_to_assess"
            )
        )
    await engine.dispose()
    assert status == "breached"


def test_users_create_with_an_email_prints_a_web_password_that_signs_in(tmp_path: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from ehc.store import accounts

    env = {"EHC_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    args = (
        "users",
        "create",
        "--role",
        "caseworker",
        "--name",
        "Kim",
        "--email",
        "Kim@Council.example",
    )
    result = ehc(*args, env=env)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("Web sign-in:"))
    password = line.split(" with password ")[1].split(" ")[0]
    assert password.encode() not in (tmp_path / "ehc.db").read_bytes()

    async def signs_in() -> bool:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'ehc.db'}")
        try:
            async with sessionmaker(engine)() as session:
                outcome = await accounts.sign_in(
                    session, email="kim@council.example", password=password, now=datetime.now(UTC)
                )
            return isinstance(outcome, accounts.SignedIn)
        finally:
            await engine.dispose()

    assert asyncio.run(signs_in())
    again = ehc(*args, env=env)
    assert again.returncode == 2
    assert "already used" in again.stderr
    assert "Traceback" not in again.stderr


def test_make_dev_prepares_a_caseworker_who_can_sign_in_and_keeps_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ehc_cli import main as cli

    settings = Settings(data_dir=tmp_path, teams_file=Path("config/teams.yaml"))
    cli._prepare_dev(settings)
    first = capsys.readouterr().out
    assert "Sign in at http://127.0.0.1:8000/sign-in as caseworker@dev.example" in first
    cli._prepare_dev(settings)
    second = capsys.readouterr().out
    sign_in_line = [x for x in first.splitlines() if x.startswith("Sign in at")]
    assert sign_in_line == [x for x in second.splitlines() if x.startswith("Sign in at")]
