"""The store is the read model: a case reads the same from the store as from its workflow,
stays readable after Temporal deletes its workflow, and reads never wait on a worker."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode

from api import temporal_gateway
from ehc.models import CaseView
from ehc.settings import Settings
from ehc.store.tables import NoteRow
from ehc_cli.store_admin import rebuild
from tests.api.scenarios import create_case, event_kinds, limit, new_case_body, statuses, weeks
from tests.conftest import Stack, StackMaker

READ_BUDGET_S = 1.0  # a case or a worklist page from the store, on a loaded 2-core machine


def _case_view(got: dict[str, Any]) -> dict[str, Any]:
    """The case view part of a GET answer (without the child and the projection)."""
    body = {k: v for k, v in got.items() if k not in ("child", "projection")}
    return CaseView.model_validate(body).model_dump(mode="json")


async def assert_store_matches_workflow(s: Stack, ref: str) -> dict[str, Any]:
    """GET (the store) shows exactly what the workflow's query shows. If this fails after a
    change to the case view, ``ehc/store/case_reads.py`` or the projection has drifted."""
    got = await s.get(f"/assessments/{ref}")
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    assert body["projection"]["source"] == "store"
    assert body["projection"]["current"] is True, body["projection"]
    from_workflow = (await temporal_gateway.view(s.env.client, ref)).model_dump(mode="json")
    assert _case_view(body) == from_workflow
    return body


async def test_the_store_shows_the_same_case_view_as_the_workflow_at_every_step(
    clock_stack: Stack,
) -> None:
    """A whole case: request, decision, advice (one received, one withdrawn), an exception,
    decision to issue, draft, the representations period running out with no event of its
    own, a late final plan. After each step the store's view equals the workflow's."""
    s = clock_stack
    day0 = await s.today() - weeks(19)
    ref = (await create_case(s, day0))["case_ref"]
    await assert_store_matches_workflow(s, ref)

    steps: list[tuple[str, dict[str, Any]]] = [
        ("decision-to-assess", {"decision": "assess", "decided_on": day0 + weeks(5)}),
        ("advice-requests", {"agency": "health", "requested_on": day0 + weeks(5)}),
        ("advice-requests", {"agency": "social_care", "requested_on": day0 + weeks(5)}),
    ]
    for path, body in steps:
        r = await s.post(f"/assessments/{ref}/{path}", _json(body))
        assert r.status_code in (200, 201), r.text
        await assert_store_matches_workflow(s, ref)

    view = await assert_store_matches_workflow(s, ref)
    health, social = (a["id"] for a in view["advice_requests"])
    r = await s.post(f"/advice-requests/{health}/received", _json({"received_on": day0 + weeks(9)}))
    assert r.status_code == 200, r.text
    await assert_store_matches_workflow(s, ref)
    r = await s.post(
        f"/advice-requests/{social}/withdrawal",
        _json({"withdrawn_on": day0 + weeks(10), "reason": "not needed after all"}),
    )
    assert r.status_code == 200, r.text
    await assert_store_matches_workflow(s, ref)
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        _json(
            {
                "limit": "final_plan",
                "kind": "personal_circumstances",
                "reason": "a long stay in hospital",
                "starts_on": day0 + weeks(11),
            }
        ),
    )
    assert r.status_code == 201, r.text
    await assert_store_matches_workflow(s, ref)
    r = await s.post(
        f"/assessments/{ref}/decision-to-issue",
        _json({"decision": "issue", "decided_on": day0 + weeks(12)}),
    )
    assert r.status_code == 200, r.text
    today = await s.today()
    r = await s.post(f"/assessments/{ref}/draft-plan", _json({"served_on": today}))
    assert r.status_code == 200, r.text
    view = await assert_store_matches_workflow(s, ref)
    assert limit(view, "draft_representations")["status"] == "pending"

    # The representations period (15 days beginning with service) runs out: no event, but
    # the store must not go on showing it pending. 15 days on is the day after its end,
    # when the workflow's timer fired, so both read the case on the same date.
    await s.sleep(timedelta(days=15))
    view = await assert_store_matches_workflow(s, ref)
    assert limit(view, "draft_representations")["status"] == "met"
    assert limit(view, "final_plan")["status"] == "exception"

    r = await s.post(f"/assessments/{ref}/final-plan", _json({"issued_on": await s.today()}))
    assert r.status_code == 200, r.text
    view = await assert_store_matches_workflow(s, ref)
    assert view["stage"] == "plan_issued"
    assert statuses(view)["final_plan"] == "exception"
    assert view["projection"]["projected_seq"] == view["events"][-1]["seq"]


def _json(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in body.items()}


async def _delete_workflow(s: Stack, ref: str) -> None:
    """Delete the case's workflow as retention does, and wait (bounded) until it is gone."""
    client = s.env.client
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=f"assessment-{ref}"),
        )
    )
    for _ in range(100):
        try:
            await client.get_workflow_handle(f"assessment-{ref}").describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return
            raise
        await asyncio.sleep(0.1)
    raise AssertionError("the workflow was not deleted within 10 s")


async def test_a_finished_case_reads_the_same_after_temporal_deletes_its_workflow(
    dev_stack: Stack, store_url: str
) -> None:
    """Deleting a workflow needs the real server. Afterwards the case reads as before
    (limits, events, exceptions, child), a correction is refused with a sentence, a
    repeated request does not start it again and ``ehc store rebuild`` keeps it."""
    s = dev_stack
    day0 = await s.today() - weeks(22)
    ref = (await create_case(s, day0))["case_ref"]
    for path, body in [
        ("decision-to-assess", {"decision": "assess", "decided_on": day0 + weeks(5)}),
        ("advice-requests", {"agency": "health", "requested_on": day0 + weeks(5)}),
    ]:
        assert (await s.post(f"/assessments/{ref}/{path}", _json(body))).status_code in (200, 201)
    advice_id = (await s.get(f"/assessments/{ref}")).json()["advice_requests"][0]["id"]
    r = await s.post(
        f"/advice-requests/{advice_id}/received", _json({"received_on": day0 + weeks(10)})
    )
    assert r.status_code == 200, r.text
    later: list[tuple[str, dict[str, Any]]] = [
        (
            "exceptions",
            {
                "limit": "final_plan",
                "kind": "personal_circumstances",
                "reason": "a long stay in hospital",
                "starts_on": day0 + weeks(11),
            },
        ),
        ("decision-to-issue", {"decision": "issue", "decided_on": day0 + weeks(12)}),
        ("draft-plan", {"served_on": day0 + weeks(14)}),
        ("final-plan", {"issued_on": day0 + weeks(21)}),
    ]
    for path, body in later:
        r = await s.post(f"/assessments/{ref}/{path}", _json(body))
        assert r.status_code in (200, 201), r.text
    before = await assert_store_matches_workflow(s, ref)
    assert before["stage"] == "plan_issued"

    await _delete_workflow(s, ref)

    r = await s.get(f"/assessments/{ref}")
    assert r.status_code == 200, r.text
    after = r.json()
    assert _case_view(after) == _case_view(before)
    assert (
        after["child"]
        == before["child"]
        == {
            "given_name": "Amelia",
            "family_name": "Testcase",
            "date_of_birth": "2015-03-04",
        }
    )
    assert statuses(after)["final_plan"] == "exception"
    assert after["exceptions"][0]["kind"] == "personal_circumstances"
    assert event_kinds(after)[0] == "request_received"
    assert "final_plan_issued" in event_kinds(after)
    assert after["projection"]["current"] is True
    async with s.sessions() as session:  # the reasons, kept in the store, not Temporal
        reasons = (await session.scalars(select(NoteRow.text).where(NoteRow.case_ref == ref))).all()
    assert list(reasons) == ["a long stay in hospital"]

    # A correction cannot reach a workflow that is gone: refused with a sentence.
    r = await s.post(f"/assessments/{ref}/final-plan", _json({"issued_on": day0 + weeks(20)}))
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "case_archived"
    assert "can still be read" in r.json()["detail"]
    r = await s.post(
        f"/advice-requests/{advice_id}/received", _json({"received_on": day0 + weeks(9)})
    )
    assert (r.status_code, r.json()["error"]) == (409, "case_archived")
    # A case never known answers 404 as before.
    r = await s.post("/assessments/NO-SUCH-CASE/final-plan", _json({"issued_on": day0}))
    assert (r.status_code, r.json()["error"]) == (404, "not_found")

    # Repeating the request that opened the case reads it; it does not start it again.
    r = await s.post("/assessments", new_case_body(day0, case_ref=ref))
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "plan_issued"
    with pytest.raises(RPCError) as gone:
        await s.env.client.get_workflow_handle(f"assessment-{ref}").describe()
    assert gone.value.status is RPCStatusCode.NOT_FOUND  # not started again

    target = s.env.client.service_client.config.target_host
    settings = Settings(
        temporal_address=target,
        database_url=store_url,
        temporal_task_queue=s.task_queue,
        data_dir=Path("unused"),
    )
    report = await rebuild(settings)
    assert ref in report.kept
    assert report.unreadable == []
    assert any("Kept" in line and "retention" in line for line in report.lines())
    r = await s.get(f"/assessments/{ref}")
    assert _case_view(r.json()) == _case_view(before)


async def _timed_get(s: Stack, path: str, role: str, params: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    r = await s.get(path, role=role, **params)
    took = time.monotonic() - started
    assert r.status_code == 200, (path, r.text)
    return r, took


async def test_a_case_the_worklist_and_a_report_read_as_fast_with_the_worker_stopped(
    dev_env: Any, stacks: StackMaker
) -> None:
    """Each read is timed with the worker running, then with it stopped: a case, the
    worklist's first page and a timeliness report answer within the usual time."""
    async with stacks(dev_env, with_worker=False) as s:
        day0 = await s.today() - weeks(3)
        reads: dict[str, tuple[str, str, dict[str, Any]]] = {
            "worklist": ("/assessments", "caseworker", {"limit": 50}),
            "report": (
                "/reports/timeliness",
                "manager",
                {"from": day0.isoformat(), "to": (await s.today()).isoformat()},
            ),
        }
        usual: dict[str, float] = {}
        async with s.worker():
            ref = (await create_case(s, day0))["case_ref"]
            r = await s.post(
                f"/assessments/{ref}/decision-to-assess",
                _json({"decision": "assess", "decided_on": day0 + weeks(2)}),
            )
            assert r.status_code == 200, r.text
            reads["case"] = (f"/assessments/{ref}", "caseworker", {})
            with_worker = await assert_store_matches_workflow(s, ref)
            for name, (path, role, params) in reads.items():
                usual[name] = (await _timed_get(s, path, role, params))[1]

        # No worker now: a query would wait for one; reads come from the store.
        for name, (path, role, params) in reads.items():
            r, took = await _timed_get(s, path, role, params)
            budget = max(READ_BUDGET_S, 3 * usual[name])
            assert took < budget, f"{name}: {took:.2f} s with no worker, {usual[name]:.2f} s with"
            if name == "case":
                assert _case_view(r.json()) == _case_view(with_worker)
                assert r.json()["projection"]["current"] is True
