"""Nothing hung: with the worker or the Temporal server down, every request is answered
within its bound (503 with Retry-After and a sentence), and a create is never half-made."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from ehc.settings import Settings
from ehc.store import repository, tables
from ehc.store.db import make_engine, sessionmaker
from tests.api.scenarios import create_case, event_kinds, new_case_body, weeks
from tests.conftest import Stack, StackMaker, start_time_skipping
from tests.waiting import eventually

DEADLINE = 2.0
BOUND = DEADLINE + 1.5 + 1.5  # the deadline, the describe a failed create makes, slack


@pytest.fixture
async def no_worker_stack(ts_env: WorkflowEnvironment, stacks: StackMaker) -> AsyncIterator[Stack]:
    async with stacks(ts_env, with_worker=False, temporal_deadline_seconds=DEADLINE) as stack:
        yield stack


async def _timed(call: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call  # type: ignore[misc]
    return response, time.monotonic() - started


def _is_503_with_a_sentence(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
    assert r.json()["detail"].endswith(".")
    assert int(r.headers["Retry-After"]) > 0


async def _projected(s: Stack, ref: str) -> None:
    """Wait (bounded) until the workflow's first projection has written the case, so
    stopping the worker cancels no projection in the middle of its transaction. (The API
    writes the case's row before the workflow starts: the pending start is what tells.)"""

    async def pending() -> bool:
        async with s.sessions() as session:
            if await session.get(tables.CaseRow, ref) is None:
                return True
            return await repository.is_pending_start(session, case_ref=ref)

    await eventually(pending, until=lambda p: not p, timeout=15, what=f"{ref}'s projection")


async def _exists(env: WorkflowEnvironment, ref: str) -> bool:
    try:
        await env.client.get_workflow_handle(f"assessment-{ref}").describe()
    except RPCError:
        return False
    return True


async def test_an_update_with_the_worker_down_answers_503_in_time_and_a_retry_records_it_once(
    no_worker_stack: Stack,
) -> None:
    s = no_worker_stack
    day0 = await s.today() - weeks(3)
    async with s.worker(cached=False):
        ref = (await create_case(s, day0))["case_ref"]
        await _projected(s, ref)
    body = {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()}
    key = {"Idempotency-Key": "down-1"}
    r, took = await _timed(s.post(f"/assessments/{ref}/decision-to-assess", body, **key))
    _is_503_with_a_sentence(r)
    assert took < BOUND
    async with s.worker(cached=False):
        # As the 503 asks: retry with the same key until the case answers (the new worker
        # may need longer than this stack's 2 s deadline to pick the case up).
        again = await eventually(
            lambda: s.post(f"/assessments/{ref}/decision-to-assess", body, **key),
            until=lambda r: r.status_code != 503,
            timeout=30,
            interval=0.5,
            what="the retried decision",
        )
        assert again.status_code == 200, again.text
        assert event_kinds(again.json()).count("decision_to_assess") == 1


async def test_a_read_with_the_worker_down_answers_from_the_store_in_time(
    no_worker_stack: Stack,
) -> None:
    """Reads come from the case store (issue 17), so a stopped worker neither hangs them
    nor turns them into errors."""
    s = no_worker_stack
    async with s.worker(cached=False):
        ref = (await create_case(s, await s.today() - weeks(1)))["case_ref"]
        await _projected(s, ref)
    r, took = await _timed(s.get(f"/assessments/{ref}"))
    assert r.status_code == 200, r.text
    assert r.json()["projection"]["source"] == "store"
    assert took < BOUND


async def test_a_create_with_the_worker_down_answers_at_once_and_the_case_converges(
    no_worker_stack: Stack,
) -> None:
    """A start no longer waits for the worker (issue 14): the store row and a plain start
    are both made, and the case projects once a worker runs."""
    s = no_worker_stack
    body = new_case_body(await s.today() - weeks(1))
    ref = body["case_ref"]
    r, took = await _timed(s.post("/assessments", body))
    assert r.status_code == 201, r.text
    assert took < BOUND
    async with s.sessions() as session:
        assert await repository.get_child(session, case_ref=ref) is not None
        assert await repository.is_pending_start(session, case_ref=ref)
    assert await _exists(s.env, ref), "the workflow was started"
    async with s.worker(cached=False):

        async def pending() -> bool:
            async with s.sessions() as session:
                return await repository.is_pending_start(session, case_ref=ref)

        await eventually(pending, until=lambda p: not p, timeout=30, what="the first projection")


async def test_with_temporal_down_every_write_is_503_reads_still_answer_and_a_create_waits_to_start(
    stacks: StackMaker,
) -> None:
    env = await start_time_skipping()
    stopped = False
    try:
        async with stacks(env, with_worker=False, temporal_deadline_seconds=DEADLINE) as s:
            today = await s.today()
            async with s.worker(cached=False):
                ref = (await create_case(s, today - weeks(3)))["case_ref"]
                await _projected(s, ref)
            await env.shutdown()
            stopped = True

            body = new_case_body(today - weeks(1))
            r, took = await _timed(s.http.post("/assessments", json=body, headers=s.headers()))
            _is_503_with_a_sentence(r)
            assert took < BOUND
            # Recorded, not lost: the worker's sweep (or the caller's retry) starts it once
            # Temporal is back, so the row and the workflow converge.
            async with s.sessions() as session:
                assert await repository.is_pending_start(session, case_ref=body["case_ref"])

            r, took = await _timed(
                s.http.post(
                    f"/assessments/{ref}/decision-to-assess",
                    json={"decision": "assess", "decided_on": body["received_on"]},
                    headers=s.headers(),
                )
            )
            _is_503_with_a_sentence(r)
            assert took < BOUND
            # Reads come from the case store (issue 17): Temporal being down does not stop them.
            r, took = await _timed(s.http.get(f"/assessments/{ref}", headers=s.headers()))
            assert r.status_code == 200, r.text
            assert took < BOUND

            ready = await s.http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["temporal"] == "down"
            assert ready.json()["store"] == "ok"
            assert (await s.http.get("/healthz")).status_code == 200
    finally:
        if not stopped:
            await env.shutdown()


async def test_readyz_is_ok_when_the_store_and_temporal_answer(ts_stack: Stack) -> None:
    r = await ts_stack.http.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "store": "ok", "temporal": "ok"}


async def test_readyz_is_503_when_the_store_does_not_answer(ts_stack: Stack) -> None:
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    app = create_app(
        Settings(environment="test"), temporal=ts_stack.env.client, sessions=sessionmaker(engine)
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api"
        ) as http:
            r = await http.get("/readyz")
            assert r.status_code == 503
            assert r.json()["store"] == "down"
            assert r.headers["Retry-After"]
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await engine.dispose()
