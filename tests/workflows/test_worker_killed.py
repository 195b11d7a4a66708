"""Kill -9 the worker in the middle of cases, start it again: nothing lost, nothing doubled.

Runs on the real Temporal dev server with the worker as a separate process (`ehc worker`),
exactly as `make dev` runs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from ehc.store import tables
from tests.api.scenarios import create_case, event_kinds, statuses, weeks
from tests.conftest import Stack, StackMaker, unique_ref
from tests.waiting import eventually
from workflows.assessment import workflow_id

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop


@pytest.fixture
async def dev_stack_no_worker(
    dev_env: WorkflowEnvironment, stacks: StackMaker
) -> AsyncIterator[Stack]:
    async with stacks(dev_env, with_worker=False) as stack:
        yield stack


class WorkerProcess:
    def __init__(self, env: WorkflowEnvironment, store_url: str, task_queue: str) -> None:
        self.environ = {
            **os.environ,
            "EHC_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "EHC_DATABASE_URL": store_url,
            "EHC_TEMPORAL_TASK_QUEUE": task_queue,
            "EHC_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ehc_cli.main", "worker"], env=self.environ
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def worker_process(dev_stack_no_worker: Stack, dev_env, store_url: str) -> Iterator[WorkerProcess]:
    process = WorkerProcess(dev_env, store_url, dev_stack_no_worker.task_queue)
    yield process
    process.stop()


async def _polling(s: Stack, worker: WorkerProcess) -> bool:
    """This worker process (not one killed before it) polls the case's task queue."""
    if worker.proc is None:
        return False
    try:
        described = await s.env.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=s.env.client.namespace,
                task_queue=TaskQueue(name=s.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=2),
        )
    except RPCError:
        return False
    return any(p.identity.startswith(f"{worker.proc.pid}@") for p in described.pollers)


async def _start_worker(s: Stack, worker: WorkerProcess) -> None:
    """Start the worker process and wait until it polls: on a loaded machine its imports
    alone can take longer than the API's deadline, which would answer 503."""
    worker.start()
    await eventually(
        lambda: _polling(s, worker), timeout=60, interval=0.5, what="the worker polling"
    )


async def _store_counts(s: Stack, ref: str) -> tuple[int, int]:
    async with s.sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(tables.EventRow).where(tables.EventRow.case_ref == ref)
        )
        limits = await session.scalar(
            select(func.count()).select_from(tables.LimitRow).where(tables.LimitRow.case_ref == ref)
        )
    return int(events or 0), int(limits or 0)


async def _until_projected(s: Stack, ref: str, view: dict[str, object]) -> tuple[int, int]:
    expected = (len(view["events"]), len(view["limits"]))  # type: ignore[arg-type]
    # A projection in flight on the killed worker is retried after its 10 s timeout.
    return await eventually(
        lambda: _store_counts(s, ref),
        until=lambda counts: counts == expected,
        timeout=30,
        what="the store to hold the workflow's events and limits",
    )


async def _workflow_started(s: Stack, ref: str) -> bool:
    try:
        await s.env.client.get_workflow_handle(workflow_id(ref)).describe()
    except RPCError:
        return False
    return True


async def test_killed_worker_loses_and_doubles_nothing(
    dev_stack_no_worker: Stack, worker_process: WorkerProcess
) -> None:
    s = dev_stack_no_worker
    await _start_worker(s, worker_process)
    day0 = await s.today() - weeks(21)
    ref = (await create_case(s, day0))["case_ref"]
    decision = {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decision)).status_code == 200
    advice = {"agency": "health", "requested_on": (day0 + weeks(6)).isoformat()}
    r = await s.post(f"/assessments/{ref}/advice-requests", advice)
    assert r.status_code == 201
    worker_process.kill()  # mid-case, possibly mid-projection

    # While no worker runs, another backdated case arrives: its start is durable.
    other_ref = unique_ref()
    second = asyncio.create_task(create_case(s, day0 + timedelta(days=1), case_ref=other_ref))
    await eventually(
        lambda: _workflow_started(s, other_ref), timeout=15, what="the second case's start"
    )
    worker_process.start()
    other = (await second)["case_ref"]

    # The restarted worker may take longer than the API's deadline to pick the case up
    # (the killed worker's sticky queue times out first): the API answers 503 and, like any
    # client, the test retries with the same Idempotency-Key until it is recorded, once.
    advice_id = r.json()["id"]

    async def received() -> httpx.Response:
        return await s.post(
            f"/advice-requests/{advice_id}/received",
            {"received_on": (day0 + weeks(10)).isoformat()},
            **{"Idempotency-Key": f"received-{advice_id}"},
        )

    r = await eventually(
        received, until=lambda r: r.status_code != 503, timeout=90, interval=1, what="received"
    )
    assert r.status_code == 200, r.text
    view = (await s.get(f"/assessments/{ref}")).json()
    kinds = event_kinds(view)
    for kind in ("request_received", "decision_to_assess", "advice_requested", "advice_received"):
        assert kinds.count(kind) == 1, kinds
    # Backdated 21 weeks: decision, final plan and (once requested) advice were each
    # breached once; the decision and the advice were then corrected once each. The no-plan
    # notice waits for the outcome, never breached provisionally (rules.md 8.3).
    assert kinds.count("limit_breached") == 3, kinds
    assert kinds.count("breach_corrected") == 2, kinds
    assert [e["seq"] for e in view["events"]] == list(range(1, len(kinds) + 1))
    assert await _until_projected(s, ref, view) == (len(view["events"]), len(view["limits"]))

    other_view = (await s.get(f"/assessments/{other}")).json()
    assert statuses(other_view)["decision_to_assess"] == "breached"
    assert await _until_projected(s, other, other_view) == (
        len(other_view["events"]),
        len(other_view["limits"]),
    )
