"""A real Chromium (Debian's `chromium`, driven by Playwright: no browser download) against
the app served by uvicorn on a free port, in the test session's event loop.

Without Chromium the browser tests skip with a one-line hint, except under CI=true,
where a missing browser fails the run (`.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from ehc.directory import load as load_directory_file
from ehc.settings import Settings
from ehc.store import advice_requests
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from tests.conftest import TEAMS_FILE, MailServer, Stack, free_port, make_tokens, open_stack

HINT = "no Chromium: run `apt-get install -y chromium` (Debian) to run the browser tests"


def chromium_path() -> str:
    found = os.environ.get("EHC_CHROMIUM") or shutil.which("chromium")
    if found and Path(found).exists():
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{HINT} (CI=true: a missing browser fails the run)")
    pytest.skip(HINT)


@dataclass
class Live:
    stack: Stack
    base_url: str


@pytest.fixture
async def live(
    dev_env: WorkflowEnvironment, mail_server: MailServer, tmp_path: Path
) -> AsyncIterator[Live]:
    """The app on a real port, with a worker, on the real Temporal dev server (real time),
    with a store of its own: the worklist shows this journey's cases only."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ehc.db'}"
    await upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    async with sessions() as session:
        for team in load_directory_file(TEAMS_FILE).teams:
            await advice_requests.save_team(session, team)
        await session.commit()
    tokens = await make_tokens(sessions)
    stack_cm = contextlib.asynccontextmanager(open_stack)(
        dev_env, sessions, tokens, smtp_port=mail_server.port
    )
    try:
        async with stack_cm as stack, _served(stack, smtp_port=mail_server.port) as live:
            yield live
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _served(stack: Stack, smtp_port: int = 1025) -> AsyncIterator[Live]:
    """The app served by uvicorn on a free port, in this event loop; its emails (the team
    portal's sign-in links) go to the tests' mail server and point at this port."""
    port = free_port()
    settings = Settings(
        temporal_task_queue=stack.task_queue,
        environment="test",
        smtp_port=smtp_port,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings, temporal=stack.env.client, sessions=stack.sessions)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start within 10 s"
    try:
        yield Live(stack, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
