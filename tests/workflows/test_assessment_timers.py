"""Durable timers under time skipping: deadlines pass while nobody is looking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ehc.models import CaseView
from ehc.store import tables
from tests.api.scenarios import create_case, limit, weeks
from tests.conftest import START_MOMENTS, Stack
from workflows.assessment import AssessmentWorkflow, workflow_id

pytestmark = pytest.mark.parametrize("start_moment", START_MOMENTS, indirect=True)


async def _store_status(s: Stack, ref: str, key: str) -> str | None:
    async with s.sessions() as session:
        row = await session.scalar(
            select(tables.LimitRow.status).where(
                tables.LimitRow.case_ref == ref, tables.LimitRow.limit_key == key
            )
        )
    return None if row is None else str(row)


async def test_decision_deadline_breaches_the_day_after_it_falls_due(clock_stack: Stack) -> None:
    s = clock_stack
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


async def test_advice_and_final_plan_deadlines_pass_unmet(clock_stack: Stack) -> None:
    s = clock_stack
    day0 = await s.today()
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": day0.isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": day0.isoformat()},
    )
    advice_id = r.json()["id"]
    await s.sleep(weeks(6) + timedelta(days=1))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "advice", advice_id)["status"] == "breached"
    assert limit(view, "final_plan")["status"] == "pending"
    await s.sleep(weeks(14) + timedelta(days=1))
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "final_plan")["status"] == "breached"
    # rules.md 8.3: no outcome yet, so the no-plan limit waits (at risk), never breached
    assert limit(view, "no_plan_notice")["status"] == "pending"
    assert limit(view, "no_plan_notice")["at_risk"]
    assert await _store_status(s, ref, "final_plan") == "breached"


async def test_closed_case_finishes_after_the_grace_period(clock_stack: Stack) -> None:
    s = clock_stack
    day0 = await s.today()
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/withdrawal", {"withdrawn_on": day0.isoformat(), "reason": "moved away"}
    )
    await s.sleep(timedelta(days=29))
    handle = s.env.client.get_workflow_handle_for(AssessmentWorkflow.run, workflow_id(ref))
    result: CaseView = await handle.result()
    assert result.stage.value == "withdrawn"
    r = await s.post(f"/assessments/{ref}/draft-plan", {"served_on": day0.isoformat()})
    assert r.status_code == 409
    # The same body again does not restart a closed case.
    again = await s.post(
        "/assessments",
        {
            "case_ref": ref,
            "received_on": day0.isoformat(),
            "requested_by": "parent",
            "child": {
                "given_name": "Amelia",
                "family_name": "Testcase",
                "date_of_birth": "2015-03-04",
            },
        },
    )
    assert again.status_code == 200, again.text
    assert again.json()["stage"] == "withdrawn"
