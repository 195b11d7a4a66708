"""A start is answered without waiting for the worker, yet never half-made (issue 14).

The API writes the store first (child, case rows, pending start), then starts the
workflow. A crash between the two leaves a recorded case whose workflow the caller's retry
or the worker's sweep starts; a crash before the commit leaves nothing at all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from temporalio.service import RPCError

from api import temporal_gateway
from ehc.store import repository, tables
from tests.api.scenarios import new_case_body, weeks
from tests.conftest import Stack
from tests.waiting import eventually
from workflows.assessment import workflow_id


class SimulatedCrash(Exception):
    """The API process dying at this exact point."""


async def _crashing_post(s: Stack, body: dict[str, Any]) -> None:
    """POST the case and 'crash': either the exception escapes or the caller sees a 5xx."""
    s.case_refs.append(body["case_ref"])  # terminate whatever a later start makes
    try:
        response = await s.post("/assessments", body)
    except SimulatedCrash:
        return
    assert response.status_code >= 500, response.text


async def _stored(s: Stack, row: type[tables.Base], ref: str) -> int:
    async with s.sessions() as session:
        column = row.__table__.c.case_ref
        return int(await session.scalar(select(func.count()).where(column == ref)) or 0)


async def _workflow_exists(s: Stack, ref: str) -> bool:
    try:
        await s.env.client.get_workflow_handle(workflow_id(ref)).describe()
    except RPCError:
        return False
    return True


@pytest.fixture
def crash_before_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first workflow start after the store's commit never happens."""
    real = temporal_gateway.start_assessment
    calls = {"n": 0}

    async def crash_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SimulatedCrash
        await real(*args, **kwargs)

    monkeypatch.setattr(temporal_gateway, "start_assessment", crash_once)


async def test_crash_after_store_write_leaves_a_pending_case_the_sweep_starts(
    ts_stack: Stack, crash_before_start: None
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    body = new_case_body(day0)
    ref = body["case_ref"]
    await _crashing_post(s, body)

    # Half-way: the store holds the case and its pending start, Temporal holds nothing.
    assert await _stored(s, tables.ChildRow, ref) == 1
    assert await _stored(s, tables.CaseRow, ref) == 1
    assert await _stored(s, tables.PendingStartRow, ref) == 1
    assert not await _workflow_exists(s, ref)

    # The store is shared by every test, some on other Temporal servers: their pending rows
    # are not this test's to start.
    async with s.sessions() as session, session.begin():
        await session.execute(
            delete(tables.PendingStartRow).where(tables.PendingStartRow.case_ref != ref)
        )
    # A sweep leaves a start that may still be in flight alone ...
    now = await s.env.get_current_time()
    assert (
        await temporal_gateway.sweep_pending_starts(s.env.client, s.sessions, s.task_queue, now=now)
        == 0
    )
    # ... and starts it once it is older than the sweep's delay.
    later = now + temporal_gateway.SWEEP_AFTER + timedelta(seconds=1)
    started = await temporal_gateway.sweep_pending_starts(
        s.env.client, s.sessions, s.task_queue, now=later
    )
    assert started == 1
    assert await _workflow_exists(s, ref)

    # The workflow's first projection clears the pending row; the case then works as usual.
    await eventually(
        lambda: _stored(s, tables.PendingStartRow, ref),
        until=lambda n: n == 0,
        timeout=20,
        what="the workflow's projection to clear the pending start",
    )
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["stage"] == "awaiting_decision_to_assess"
    assert view["child"]["given_name"] == "Amelia"
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(2)).isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "gathering_advice"
    # A second sweep finds nothing left to do.
    assert (
        await temporal_gateway.sweep_pending_starts(
            s.env.client, s.sessions, s.task_queue, now=later
        )
        == 0
    )


async def test_crash_after_store_write_is_completed_by_the_callers_retry(
    ts_stack: Stack, crash_before_start: None
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(1)
    body = new_case_body(day0)
    ref = body["case_ref"]
    await _crashing_post(s, body)
    assert not await _workflow_exists(s, ref)

    retry = await s.post("/assessments", body)  # the same request, sent again
    assert retry.status_code == 200, retry.text
    assert retry.json()["case_ref"] == ref
    assert await _workflow_exists(s, ref)
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": day0.isoformat()},
    )
    assert r.status_code == 200, r.text
    async with s.sessions() as session:
        kinds = (
            await session.scalars(
                select(tables.EventRow.kind)
                .where(tables.EventRow.case_ref == ref)
                .order_by(tables.EventRow.seq)
            )
        ).all()
    await eventually(lambda: _stored(s, tables.EventRow, ref), until=lambda n: n == 2, timeout=20)
    assert kinds[0] == "request_received"


async def test_a_failed_store_write_starts_no_workflow(
    ts_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = ts_stack

    async def broken_store(*args: Any, **kwargs: Any) -> bool:
        raise SimulatedCrash

    monkeypatch.setattr(repository, "record_opened_case", broken_store)
    body = new_case_body(await s.today())
    ref = body["case_ref"]
    await _crashing_post(s, body)
    assert await _stored(s, tables.ChildRow, ref) == 0  # rolled back with the case rows
    assert await _stored(s, tables.CaseRow, ref) == 0
    assert not await _workflow_exists(s, ref)


async def test_a_start_answers_with_the_view_the_workflow_then_projects(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(21)  # backdated: limits already missed at the start
    response = await s.post("/assessments", new_case_body(day0))
    assert response.status_code == 201, response.text
    answered = response.json()
    ref = answered["case_ref"]
    await eventually(
        lambda: _stored(s, tables.PendingStartRow, ref), until=lambda n: n == 0, timeout=20
    )
    workflow = (await s.get(f"/assessments/{ref}")).json()
    for key in ("stage", "limits", "next_due_on", "breached"):
        assert answered[key] == workflow[key], key
    assert [e["kind"] for e in answered["events"]] == [e["kind"] for e in workflow["events"]]
