"""A real Chromium (Debian's `chromium`, driven by Playwright: no browser download) against
the app served by uvicorn on a free port, in the test session's event loop.

Without Chromium the browser tests skip with a one-line hint, except under CI=true,
where a missing browser fails the run (`.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from ehc.settings import Settings
from tests.conftest import Stack, StackMaker, free_port

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
async def live(dev_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Live]:
    """The app on a real port, with a worker, on the real Temporal dev server (real time)."""
    async with stacks(dev_env) as stack:
        settings = Settings(temporal_task_queue=stack.task_queue, environment="test")
        app = create_app(settings, temporal=dev_env.client, sessions=stack.sessions)
        port = free_port()
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
