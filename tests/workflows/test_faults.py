"""Faults under load: kill the worker, then the Temporal server, while a few clients keep
working. Every request is answered (2xx or 503 with Retry-After) within its bound, and once
everything is back, nothing was lost or doubled.

The real Temporal dev server (SQLite file, so a restart keeps its state) and the worker
(`ehc worker`) run as processes, as `make dev` runs them; the API is in-process.

Robust on a loaded machine without going soft: the bound on each answer is the API's own
budget for Temporal (``Settings.temporal_deadline_seconds``) plus a fixed margin for the
store and a busy event loop, far below the client's 30 s timeout (a hang still fails); each
fault is started when the clients have made progress and ended once it was felt (a 503),
and each restart is waited for by readiness (the server answers, the new worker polls),
not by fixed sleeps; the clients keep working until the faults are over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import tables
from ehc.temporal import data_converter
from ehc_cli.devstack import temporal_dev_server_command, wait_for_port
from tests.api.scenarios import new_case_body
from tests.conftest import MailServer, free_port, unique_ref
from tests.waiting import eventually

pytestmark = [pytest.mark.devserver, pytest.mark.slow]

DEADLINE = 3.0  # the API's budget for Temporal per request (short, so faults show fast)
MARGIN = 5.0  # beyond the budget: the store's work and a loaded machine's event loop
CLIENTS = 4
CASES_PER_CLIENT = 4  # at least: each client keeps working until the faults are over
READY = 90.0  # how long a restarted server or worker may take to be ready, under load
GIVE_UP = 180.0  # a request not answered 2xx by then (retrying on 503) fails the test


class Process:
    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.cmd, self.env = cmd, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=subprocess.DEVNULL, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class Seen:
    answers: list[tuple[int, float, bool]] = field(default_factory=list)  # status, s, retry-after
    done: dict[str, str] = field(default_factory=dict)  # case_ref -> decided_on
    faults_over: asyncio.Event = field(default_factory=asyncio.Event)

    def felt_since(self, mark: int) -> bool:
        """A 503 was answered since the ``mark``-th answer: the fault reached the clients."""
        return any(status == 503 for status, _, _ in self.answers[mark:])


async def _until_2xx(
    http: httpx.AsyncClient,
    seen: Seen,
    method: str,
    path: str,
    body: Mapping[str, object],
    **h: str,
) -> httpx.Response:
    """Send until answered 2xx (each answer timed and kept); give up after ``GIVE_UP`` s."""
    give_up = time.monotonic() + GIVE_UP
    while time.monotonic() < give_up:
        started = time.monotonic()
        r = await http.request(method, path, json=body or None, headers=h)
        seen.answers.append((r.status_code, time.monotonic() - started, "Retry-After" in r.headers))
        if r.status_code < 300:
            return r
        assert r.status_code == 503, r.text
        await asyncio.sleep(0.5)
    raise AssertionError(f"{method} {path} never succeeded")


async def _client(http: httpx.AsyncClient, seen: Seen, token: str, day0: date) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    made = 0
    while made < CASES_PER_CLIENT or not seen.faults_over.is_set():
        made += 1
        body = new_case_body(day0, unique_ref("F"))
        ref = str(body["case_ref"])
        await _until_2xx(http, seen, "POST", "/assessments", body, **auth)
        decided = (day0 + timedelta(days=10)).isoformat()
        decision = {"decision": "assess", "decided_on": decided}
        await _until_2xx(
            http,
            seen,
            "POST",
            f"/assessments/{ref}/decision-to-assess",
            decision,
            **auth,
            **{"Idempotency-Key": f"decide-{ref}"},
        )
        seen.done[ref] = decided
        await asyncio.sleep(0.3)


async def _serving(client: Client) -> bool:
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=2)
        )
    except RPCError:
        return False
    return True


async def _polling(client: Client, worker: Process, settings: Settings) -> bool:
    """This worker process (not one killed before it) polls the task queue."""
    if worker.proc is None:
        return False
    try:
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=2),
        )
    except RPCError:
        return False
    return any(p.identity.startswith(f"{worker.proc.pid}@") for p in described.pollers)


async def ready(client: Client, temporal: Process, worker: Process, settings: Settings) -> None:
    """Wait until the server answers and the current worker polls, restarting a worker that
    died (as `make dev` does); bounded by ``READY`` each."""
    await asyncio.to_thread(wait_for_port, settings.temporal_address, READY, temporal.proc)
    await eventually(lambda: _serving(client), timeout=READY, what="the server answering")

    async def worker_polling() -> bool:
        if not worker.alive():
            worker.start()
        return await _polling(client, worker, settings)

    await eventually(worker_polling, timeout=READY, interval=0.5, what="the worker polling")


@pytest.mark.timeout(600)
async def test_killing_the_worker_then_temporal_under_load_loses_and_doubles_nothing(
    tmp_path: Path,
    store_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tokens: dict[str, str],
    mail_server: MailServer,
) -> None:
    port = free_port()
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        temporal_address=f"127.0.0.1:{port}",
        temporal_ui_port=free_port(),
        temporal_task_queue=f"faults-{port}",
        temporal_deadline_seconds=DEADLINE,
        auth_failures_allowed=1000,
    )
    temporal = Process(temporal_dev_server_command(settings), dict(os.environ))
    worker = Process(
        [sys.executable, "-m", "ehc_cli.main", "worker"],
        {
            **os.environ,
            "EHC_TEMPORAL_ADDRESS": settings.temporal_address,
            "EHC_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
            "EHC_DATABASE_URL": store_url,
            "EHC_WORKER_METRICS_PORT": "0",
            "EHC_SMTP_PORT": str(mail_server.port),
            "EHC_LOG_LEVEL": "WARNING",
        },
    )
    temporal.start()
    try:
        await asyncio.to_thread(wait_for_port, settings.temporal_address, 60.0)
        worker.start()
        client = await Client.connect(
            settings.temporal_address, data_converter=data_converter(settings)
        )
        app = create_app(settings, temporal=client, sessions=sessions)
        day0 = london_date(datetime.now(UTC)) - timedelta(weeks=4)
        seen = Seen()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api", timeout=30
        ) as http:
            clients = asyncio.gather(
                *(_client(http, seen, tokens["caseworker"], day0) for _ in range(CLIENTS))
            )

            async def progress(more: int) -> None:
                """Wait until the clients have finished ``more`` further cases."""
                target = len(seen.done) + more
                await eventually(lambda: len(seen.done), until=lambda n: n >= target, timeout=READY)

            async def felt(what: str) -> None:
                """Wait until a client was answered 503 since now: the fault is felt."""
                mark = len(seen.answers)
                await eventually(lambda: seen.felt_since(mark), timeout=READY, what=what)

            async def faults() -> None:
                await ready(client, temporal, worker, settings)
                await progress(CLIENTS)
                worker.kill()
                await felt("a 503 while the worker is down")
                worker.start()
                await ready(client, temporal, worker, settings)
                await progress(2)
                temporal.kill()
                await felt("a 503 while the Temporal server is down")
                temporal.start()
                # As `make dev` does: a worker that gave up while the server was away is
                # started again (`ready` restarts it if it died).
                await ready(client, temporal, worker, settings)
                seen.faults_over.set()

            await asyncio.wait_for(asyncio.gather(clients, faults()), timeout=480)

            # Nothing lost, nothing doubled: every case once, with its one decision.
            assert len(seen.done) >= CLIENTS * CASES_PER_CLIENT
            for ref, decided in seen.done.items():
                # A read may still be 503 while the worker catches up: that is allowed.
                r = await _until_2xx(
                    http,
                    seen,
                    "GET",
                    f"/assessments/{ref}",
                    {},
                    Authorization=f"Bearer {tokens['caseworker']}",
                )
                decisions = [e for e in r.json()["events"] if e["kind"] == "decision_to_assess"]
                assert [e["occurred_on"] for e in decisions] == [decided]
                assert r.json()["child"] is not None
            async with sessions() as session:
                children = await session.scalar(
                    select(func.count())
                    .select_from(tables.ChildRow)
                    .where(tables.ChildRow.case_ref.in_(list(seen.done)))
                )
            assert children == len(seen.done)

        statuses = {status for status, _, _ in seen.answers}
        assert statuses <= {200, 201, 503}, statuses
        assert 503 in statuses, "the faults were felt"
        slowest = max(took for _, took, _ in seen.answers)
        bound = settings.temporal_deadline_seconds + MARGIN
        assert slowest < bound, f"an answer took {slowest:.1f} s (bound {bound:.1f} s)"
        assert all(retry for status, _, retry in seen.answers if status == 503)
        print(
            f"faults: {len(seen.done)} cases, {len(seen.answers)} answers, "
            f"{sum(1 for s, _, _ in seen.answers if s == 503)} were 503, "
            f"slowest {slowest:.2f} s (bound {bound:.1f} s), load {os.getloadavg()[0]:.1f}"
        )
    finally:
        worker.kill()
        temporal.kill()
