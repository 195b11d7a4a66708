"""The caseworker's day: the worklist, the child's details, what was recorded, advice lists."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ehc.store.tables import EventRow
from tests.api.scenarios import create_case, eventually, weeks
from tests.conftest import Stack

SEN2_CHILD = {
    "sex": "F",
    "ethnicity": "WBRI",
    "postcode": "NE29 6AB",
    "upn_unknown_reason": "UN1",
}


def named(family_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "child": {
            "given_name": "Robin",
            "family_name": family_name,
            "date_of_birth": "2015-03-04",
            **extra,
        }
    }


async def worklist(s: Stack, **params: Any) -> list[dict[str, Any]]:
    r = await s.get("/assessments", **params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_worklist_puts_a_two_year_old_breach_above_a_case_due_in_five_weeks(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    today = await s.today()
    family = f"Urgent{uuid.uuid4().hex[:8]}"
    soon = (await create_case(s, today - weeks(1), **named(family)))["case_ref"]
    old = (await create_case(s, today - weeks(104), **named(family)))["case_ref"]
    risky = (await create_case(s, today - weeks(4) - timedelta(days=4), **named(family)))[
        "case_ref"
    ]
    closed = (await create_case(s, today - weeks(3), **named(family)))["case_ref"]
    r = await s.post(
        f"/assessments/{closed}/withdrawal",
        {"withdrawn_on": today.isoformat(), "reason": "Moved out of the area"},
    )
    assert r.status_code == 200, r.text

    async def projected() -> bool:
        refs = [i["case_ref"] for i in await worklist(s, q=family, include_closed="true")]
        return len(refs) == 4 and closed in refs

    await eventually(projected, what="four cases in the store")
    await eventually(
        lambda: _hidden(s, family, closed), what="the withdrawn case gone from the worklist"
    )
    items = await worklist(s, q=family)
    assert [i["case_ref"] for i in items] == [old, risky, soon]
    first = items[0]
    assert first["child_name"] == f"Robin {family}"
    assert first["limit"] == "decision_to_assess"
    assert first["status"] == "breached"
    assert first["due_on"] == (today - weeks(98)).isoformat()
    assert first["days_overdue"] == 98 * 7
    assert items[1]["at_risk"] is True
    assert items[1]["days_left"] == 10
    assert items[2]["days_left"] == 35
    assert items[2]["status"] == "pending"
    # by case reference, and by page
    assert [i["case_ref"] for i in await worklist(s, q=old.lower())] == [old]
    r = await s.get("/assessments", q=family, page_size=2)
    assert len(r.json()["items"]) == 2
    cursor = r.json()["next_cursor"]
    r = await s.get("/assessments", q=family, page_size=2, cursor=cursor)
    assert [i["case_ref"] for i in r.json()["items"]] == [soon]
    assert len((await s.get("/assessments", q=family, limit=1)).json()["items"]) == 1


async def _hidden(s: Stack, family: str, ref: str) -> bool:
    return ref not in [i["case_ref"] for i in await worklist(s, q=family)]


async def test_the_worklist_finds_a_child_by_name_or_upn(ts_stack: Stack) -> None:
    s = ts_stack
    family = f"Findme{uuid.uuid4().hex[:8]}"
    upn = f"A{uuid.uuid4().int % 10**12:012d}"
    ref = (await create_case(s, await s.today() - weeks(2), **named(family, upn=upn)))["case_ref"]

    async def found() -> bool:
        return [i["case_ref"] for i in await worklist(s, q=upn)] == [ref]

    await eventually(found, what="the case found by its UPN")
    assert [i["case_ref"] for i in await worklist(s, q=f"robin {family.lower()}")] == [ref]
    assert [i["case_ref"] for i in await worklist(s, q=f"{family} Robin")] == [ref]


async def test_an_unknown_sort_is_refused(ts_stack: Stack) -> None:
    r = await ts_stack.get("/assessments", sort="shoe_size")
    assert r.status_code == 422
    assert r.json()["error"]
    assert "sort" in r.text
    r = await ts_stack.get("/assessments", sort="received_on")
    assert r.status_code == 200


async def test_assigned_cases_are_listed_with_mine(ts_stack: Stack) -> None:
    s = ts_stack
    family = f"Mine{uuid.uuid4().hex[:8]}"
    ref = (await create_case(s, await s.today() - weeks(1), **named(family)))["case_ref"]
    users = (await s.get("/users", role="admin")).json()
    me = next(u for u in users if u["name"] == "test caseworker")

    async def assigned() -> bool:
        r = await s.http.put(
            f"/assessments/{ref}/assignee", json={"user_id": me["id"]}, headers=s.headers()
        )
        return r.status_code == 200

    await eventually(assigned, what="the case in the store")
    items = await worklist(s, q=family, mine="true")
    assert [i["case_ref"] for i in items] == [ref]
    assert items[0]["assignee"] == "test caseworker"
    r = await s.http.put(
        f"/assessments/{ref}/assignee", json={"user_id": 999999}, headers=s.headers()
    )
    assert r.status_code == 422


async def test_a_case_without_setting_is_fixed_by_patch_and_then_appears_in_sen2(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(19)
    family = f"Settingless{uuid.uuid4().hex[:8]}"
    ref = (await create_case(s, day0, **named(family, **SEN2_CHILD)))["case_ref"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("decision-to-assess", {"decision": "assess", "decided_on": day0 + weeks(5)}),
        ("decision-to-issue", {"decision": "issue", "decided_on": day0 + weeks(12)}),
        ("draft-plan", {"served_on": day0 + weeks(14)}),
        ("final-plan", {"issued_on": day0 + weeks(18)}),
    ]
    for path, body in steps:
        json_body = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in body.items()}
        r = await s.post(f"/assessments/{ref}/{path}", json_body)
        assert r.status_code == 200, r.text
    params = {"year": day0.year + 1, "la": "392", "dmo": "Y", "dco": "Y", "problems": "true"}

    async def left_out() -> list[str]:
        r = await s.get("/reports/sen2", role="manager", **params)
        assert r.status_code == 200, r.text
        return next((p["problems"] for p in r.json()["problems"] if p["case_ref"] == ref), [])

    async def settingless() -> bool:
        return any("setting" in p for p in await left_out())

    await eventually(settingless, what="the case left out of SEN2 for want of a setting")

    r = await s.http.patch(
        f"/assessments/{ref}/child", json={"date_of_birth": "not a date"}, headers=s.headers()
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_child"
    r = await s.http.patch(
        f"/assessments/{ref}/child",
        json={"setting": "OLA", "setting_urn": "100000"},
        headers=s.headers(),
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["child"]["setting"] == "OLA"
    change = [e for e in view["events"] if e["kind"] == "child_details_changed"][-1]
    assert change["detail"]["fields"] == "setting,setting_urn"
    assert change["entered_by_name"] == "test caseworker"
    assert await left_out() == []
    r = await s.get("/reports/sen2", role="manager", **{**params, "problems": "false"})
    assert f"<Surname>{family}</Surname>" in r.text


async def test_reasons_and_submitted_sections_are_readable_by_the_caseworker(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(6)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(4)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(4)).isoformat()},
    )
    advice_id = r.json()["id"]

    async def visible_to_the_team() -> bool:
        return (await s.get(f"/advice-requests/{advice_id}", role="team")).status_code == 200

    await eventually(visible_to_the_team, what="the request in the store")
    sections = {"professional": {"name": "Dr A", "role": "Paediatrician"}}
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today.isoformat(), "sections": sections},
        role="team",
    )
    assert r.status_code == 422  # a missing input, kept all the same
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "advice",
            "advice_id": advice_id,
            "kind": "personal_circumstances",
            "reason": "Parent in hospital for three weeks",
            "starts_on": (today - weeks(1)).isoformat(),
            "ends_on": today.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["exceptions"][0]["reason"] == "Parent in hospital for three weeks"
    assert view["exceptions"][0]["entered_by_name"] == "test caseworker"
    noted = next(e for e in view["events"] if e["kind"] == "exception_recorded")
    assert noted["note"] == "Parent in hospital for three weeks"
    submissions = view["advice_requests"][0]["submissions"]
    assert [x["sections"] for x in submissions] == [sections]
    assert submissions[0]["accepted"] is False
    assert submissions[0]["entered_by_name"] == "test team"
    assert view["events"][0]["entered_by_name"] == "test caseworker"


async def test_staff_list_outstanding_advice_across_teams(ts_stack: Stack) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(12)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(4)).isoformat()},
    )
    late = (
        await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "health", "requested_on": (day0 + weeks(4)).isoformat()},
        )
    ).json()["id"]
    pending = (
        await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "social_care", "requested_on": (today - weeks(1)).isoformat()},
        )
    ).json()["id"]

    async def ids(**params: Any) -> list[str]:
        r = await s.get("/advice-requests", **params)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()]

    async def both_listed() -> bool:
        listed = await ids(page_size=500)
        return late in listed and pending in listed

    await eventually(both_listed, what="both requests in the store")
    assert late in await ids(status="overdue", agency="health")
    assert late not in await ids(status="pending")
    assert pending in await ids(status="pending", due_within_days=40)
    assert pending not in await ids(status="pending", due_within_days=10)
    assert pending not in await ids(agency="health")
    manager = await s.get("/advice-requests", role="manager", status="overdue")
    assert manager.status_code == 200
    r = await s.get("/advice-requests", status="lost")
    assert r.status_code == 422


async def test_issuing_the_final_plan_with_advice_outstanding_warns_and_stops_chasing(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(19)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(5)).isoformat()},
    )
    advice_id = r.json()["id"]
    for path, body in [
        ("decision-to-issue", {"decision": "issue", "decided_on": (day0 + weeks(12)).isoformat()}),
        ("draft-plan", {"served_on": (day0 + weeks(14)).isoformat()}),
    ]:
        r = await s.post(f"/assessments/{ref}/{path}", body)
        assert r.status_code == 200, r.text
    assert r.json()["stage"] == "draft_issued"
    r = await s.post(
        f"/assessments/{ref}/final-plan", {"issued_on": (day0 + weeks(18)).isoformat()}
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["warnings"] == [
        f"Advice from health ({advice_id}) was still outstanding: it is now closed as "
        "case_moved_on and the team is no longer chased."
    ]
    assert view["advice_requests"][0]["outcome"] == "case_moved_on"

    async def off_the_lists() -> bool:
        mine = (await s.get("/advice-requests", role="team", mine="true")).json()
        staff = (await s.get("/advice-requests", page_size=500)).json()
        return advice_id not in [a["id"] for a in mine + staff]

    await eventually(off_the_lists, what="the request off the team's and the staff's lists")
    chaser = s.env.client.get_workflow_handle(f"advice-{advice_id}")

    async def stopped() -> bool:
        status = (await chaser.describe()).status
        return status is not None and status.name == "COMPLETED"

    await eventually(stopped, what="the chaser stopped")


async def test_the_child_can_be_corrected_after_the_case_workflow_has_finished(
    clock_stack: Stack,
) -> None:
    s = clock_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/withdrawal",
        {"withdrawn_on": (day0 + weeks(2)).isoformat(), "reason": "Family moved away"},
    )
    assert r.status_code == 200, r.text
    await s.sleep(timedelta(days=30))  # past the grace period: the workflow finishes
    handle = s.env.client.get_workflow_handle(f"assessment-{ref}")
    await asyncio.wait_for(handle.result(), timeout=20)  # the workflow has finished
    r = await s.http.patch(
        f"/assessments/{ref}/child", json={"family_name": "Corrected"}, headers=s.headers()
    )
    assert r.status_code == 200, r.text
    assert r.json()["child"]["family_name"] == "Corrected"
    async with s.sessions() as session:
        rows = await session.execute(
            select(EventRow.kind, EventRow.detail).where(EventRow.case_ref == ref)
        )
        audit = [detail for kind, detail in rows if kind == "child_details_changed"]
    assert audit == [{"fields": "family_name", "update_id": audit[0]["update_id"]}]
