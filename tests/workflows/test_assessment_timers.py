"""Durable timers under time skipping: deadlines pass while nobody is looking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus

from ehc.models import CaseView
from ehc.store import tables
from tests.api.scenarios import create_case, event_kinds, limit, weeks
from tests.conftest import Stack
from workflows.assessment import AssessmentWorkflow, workflow_id


async def _store_status(s: Stack, ref: str, key: str) -> str | None:
    async with s.sessions() as session:
        row = await session.scalar(
            select(tables.LimitRow.status).where(
                tables.LimitRow.case_ref == ref, tables.LimitRow.limit_key == key
            )
        )
    return None if row is None else str(row)


async def test_decision_deadline_breaches_the_day_after_it_falls_due(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today()
    ref = (await create_case(s, day0))["case_ref"]
    await s.sleep(weeks(6) - timedelta(hours=12))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "decision_to_assess")["status"] == "pending"
    await s.sleep(timedelta(days=2))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "decision_to_assess")["status"] == "breached"
    breach = next(e for e in view["events"] if e["kind"] == "limit_breached")
    assert breach["occurred_on"] == (day0 + weeks(6) + timedelta(days=1)).isoformat()
    assert await _store_status(s, ref, "decision_to_assess") == "breached"
    described = await s.env.client.get_workflow_handle(workflow_id(ref)).describe()
    attrs = described.typed_search_attributes
    assert any(p.key.name == "EhcBreached" and p.value is True for p in attrs)


async def test_advice_and_final_plan_deadlines_pass_unmet(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today()
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(f"/assessments/{ref}/decision-to-assess",
                 {"decision": "assess", "decided_on": day0.isoformat()})
    r = await s.post(f"/assessments/{ref}/advice-requests",
                     {"agency": "health", "requested_on": day0.isoformat()})
    advice_id = r.json()["id"]
    await s.sleep(weeks(6) + timedelta(days=1))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "advice", advice_id)["status"] == "breached"
    assert limit(view, "final_plan")["status"] == "pending"
    await s.sleep(weeks(14) + timedelta(days=1))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "final_plan")["status"] == "breached"
    assert limit(view, "no_plan_notice")["status"] == "breached"
    assert await _store_status(s, ref, "final_plan") == "breached"


async def test_closed_case_finishes_after_the_grace_period(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today()
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(f"/assessments/{ref}/withdrawal",
                 {"withdrawn_on": day0.isoformat(), "reason": "moved away"})
    handle = s.env.client.get_workflow_handle_for(AssessmentWorkflow.run, workflow_id(ref))
    result: CaseView = await handle.result()
    assert result.stage.value == "withdrawn"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    r = await s.post(f"/assessments/{ref}/draft-plan", {"served_on": day0.isoformat()})
    assert r.status_code == 409
    # The same body again does not restart a closed case.
    again = await s.post("/assessments", {
        "case_ref": ref, "received_on": day0.isoformat(), "requested_by": "parent",
        "child": {"given_name": "Amelia", "family_name": "Testcase",
                  "date_of_birth": "2015-03-04"}})
    assert again.status_code == 200, again.text
    assert again.json()["stage"] == "withdrawn"


async def test_worker_stopped_mid_case_loses_and_doubles_nothing(
    ts_stack_no_worker: Stack,
) -> None:
    s = ts_stack_no_worker
    day0 = await s.today()
    async with s.worker():
        ref = (await create_case(s, day0))["case_ref"]
        await s.post(f"/assessments/{ref}/decision-to-assess",
                     {"decision": "assess", "decided_on": day0.isoformat()})
        await s.post(f"/assessments/{ref}/advice-requests",
                     {"agency": "health", "requested_on": day0.isoformat()})
    # No worker while the advice and final-plan deadlines pass.
    await s.sleep(weeks(21))
    async with s.worker():
        await s.sleep(timedelta(hours=1))
        view = (await s.get(f"/assessments/{ref}")).json()
        kinds = event_kinds(view)
        assert kinds.count("limit_breached") == 3  # advice, no-plan notice, final plan
        assert kinds.count("decision_to_assess") == 1
        assert kinds.count("advice_requested") == 1
        await s.sleep(timedelta(hours=1))  # let the projection land
    async with s.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(tables.EventRow).where(tables.EventRow.case_ref == ref)
        )
        limits = await session.scalar(
            select(func.count()).select_from(tables.LimitRow).where(tables.LimitRow.case_ref == ref)
        )
    assert stored == len(view["events"])
    assert limits == len(view["limits"])
    assert [e["seq"] for e in view["events"]] == list(range(1, len(view["events"]) + 1))
