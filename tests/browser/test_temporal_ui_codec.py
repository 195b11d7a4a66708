"""The Temporal Web UI (the one `temporal server start-dev` serves, as `make dev` starts it)
shows a workflow's input decoded to an admin signed in to the case pages, and still
encrypted to a caseworker, in a real Chromium.

The UI calls our codec endpoint from its own origin (127.0.0.1:<ui port>) with the
browser's cookies: its Codec Server setting "Include cross-origin credentials", which the
dev server has no flag for, so each browser sets it once (the UI keeps it in localStorage;
here an init script sets it as ticking the box does). UI and API share a host, so they are
the same site and the SameSite=Lax session cookie goes with the UI's fetch.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.app import create_app
from ehc.settings import Settings
from ehc.store import accounts, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import data_converter
from ehc_cli.devstack import codec_endpoint, temporal_dev_server_command, wait_for_port
from tests.browser.conftest import chromium_path
from tests.conftest import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.devserver

PASSWORD = "correct horse battery staple"
MARKER = "UI-CODEC-PROBE-1"  # a workflow input only a decoded payload shows

# What ticking "Use my browser setting" and "Include cross-origin credentials" in the UI's
# Codec Server dialog stores (the UI's persisted stores, JSON in localStorage).
CODEC_SETTINGS = """
([ui, endpoint]) => {
  if (window.location.origin !== ui) return;
  localStorage.setItem('endpoint', JSON.stringify(endpoint));
  localStorage.setItem('includeCredentials', 'true');
  localStorage.setItem('passAccessToken', 'false');
  localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
}
"""


@dataclass
class DevStack:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    client: Client

    @property
    def pages(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def ui(self) -> str:
        return self.settings.temporal_ui_url


def _start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)


@contextlib.asynccontextmanager
async def _temporal_with_ui(settings: Settings) -> AsyncIterator[None]:
    proc = _start(temporal_dev_server_command(settings))
    try:
        await asyncio.to_thread(wait_for_port, settings.temporal_address, 60.0, proc)
        ui = f"127.0.0.1:{settings.temporal_ui_port}"
        await asyncio.to_thread(wait_for_port, ui, 60.0, proc)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def _api(stack: DevStack) -> AsyncIterator[None]:
    app = create_app(stack.settings, temporal=stack.client, sessions=stack.sessions)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=stack.settings.api_host,
            port=stack.settings.api_port,
            lifespan="off",
            log_config=None,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout=20, what="uvicorn started")
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def dev_stack_with_ui(tmp_path: Path) -> AsyncIterator[DevStack]:
    """The Temporal dev server with its Web UI and `--ui-codec-endpoint` as `make dev`
    starts it, and the API (pages and codec endpoint) on the port that endpoint names."""
    settings = Settings(  # the UI's origin (temporal_ui_url) follows its port, as in make dev
        environment="test",
        data_dir=tmp_path,
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        api_host="127.0.0.1",
        api_port=free_port(),
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'ehc.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with _temporal_with_ui(settings):
            client = await Client.connect(
                settings.temporal_address, data_converter=data_converter(settings)
            )
            stack = DevStack(settings, sessionmaker(engine), client)
            async with _api(stack):
                yield stack
    finally:
        await engine.dispose()


async def _staff(stack: DevStack, role: str) -> str:
    email = f"ui-{role}-{uuid.uuid4().hex[:6]}@council.example"
    async with stack.sessions() as session:
        user, _ = await repository.create_user(session, name=f"UI {role}", role=role)
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
    return email


async def _input_ciphertext(client: Client, workflow_id: str) -> str:
    """The first event's input as stored (encrypted), base64 as the UI shows it."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    [payload] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert payload.metadata["encoding"] == b"binary/encrypted"
    return base64.b64encode(payload.data).decode()


async def _sign_in(page: Any, stack: DevStack, email: str) -> None:
    await page.goto(f"{stack.pages}/sign-in")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url(f"{stack.pages}/cases")


@dataclass
class Shown:
    text: str  # the workflow page's text once its input is shown
    codec_answers: list[int]  # the statuses of the UI's POSTs to our codec endpoint


async def _workflow_page_as(
    browser: Any, stack: DevStack, email: str, workflow_id: str, expect: str
) -> Shown:
    """Sign in to our pages as ``email``, open the workflow in the Temporal UI and return
    its text once the UI has asked our codec endpoint and shows ``expect``."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    answers: list[int] = []
    try:
        page = await context.new_page()
        page.set_default_timeout(30_000)
        page.on(
            "response",
            lambda r: (
                answers.append(r.status)
                if "/codec/decode" in r.url and r.request.method == "POST"
                else None
            ),
        )
        await page.add_init_script(
            script=f"({CODEC_SETTINGS})({[stack.ui, codec_endpoint(stack.settings)]!r})"
        )
        await _sign_in(page, stack, email)
        await page.goto(f"{stack.ui}/namespaces/default/workflows/{workflow_id}")
        text: str = await eventually(
            lambda: page.locator("body").inner_text(),
            until=lambda t: bool(answers) and expect in t,
            timeout=60,
            interval=0.5,
            what=f"{expect!r} shown in the Temporal UI after it asked the codec endpoint",
        )
        return Shown(text, answers)
    finally:
        await context.close()


async def test_the_temporal_ui_shows_an_admin_the_input_decoded_and_a_caseworker_encrypted(
    dev_stack_with_ui: DevStack,
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    stack = dev_stack_with_ui
    workflow_id = f"codec-probe-{uuid.uuid4().hex[:8]}"
    # No worker: the input sits in the history's first event, encrypted by the converter.
    await stack.client.start_workflow(
        "CodecProbe", {"case_ref": MARKER}, id=workflow_id, task_queue="codec-probe"
    )
    sealed = await _input_ciphertext(stack.client, workflow_id)
    admin, caseworker = await _staff(stack, "admin"), await _staff(stack, "caseworker")

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            as_admin = await _workflow_page_as(browser, stack, admin, workflow_id, MARKER)
            as_caseworker = await _workflow_page_as(browser, stack, caseworker, workflow_id, sealed)
        finally:
            await browser.close()

    # The admin's browser sent the session cookie from the UI's origin and got it decoded.
    assert MARKER in as_admin.text
    assert sealed not in as_admin.text
    assert set(as_admin.codec_answers) == {200}
    # The caseworker's browser sent theirs too, was refused, and sees only ciphertext.
    assert MARKER not in as_caseworker.text
    assert sealed in as_caseworker.text
    assert set(as_caseworker.codec_answers) == {403}
