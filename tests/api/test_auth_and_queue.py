"""Who may do what, and the caseworker's queue."""

from __future__ import annotations

import pytest

from tests.api.scenarios import create_case, new_case_body, weeks
from tests.conftest import Stack
from tests.waiting import eventually


async def test_no_token_or_a_wrong_token_is_401(ts_stack: Stack) -> None:
    r = await ts_stack.http.get("/assessments")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorised"
    r = await ts_stack.http.get("/assessments", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


@pytest.mark.parametrize("role", ["manager", "team"])
async def test_only_caseworkers_and_admins_record_events(ts_stack: Stack, role: str) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(2)
    r = await s.post("/assessments", new_case_body(day0), role=role)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"


async def test_team_users_cannot_read_cases(ts_stack: Stack) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(2)))["case_ref"]
    assert (await s.get(f"/assessments/{ref}", role="team")).status_code == 403
    assert (await s.get(f"/assessments/{ref}", role="manager")).status_code == 200


async def test_unknown_case_is_404_with_a_sentence(ts_stack: Stack) -> None:
    r = await ts_stack.get("/assessments/NO-SUCH-CASE")
    assert r.status_code == 404
    assert "case reference" in r.json()["detail"]
    r = await ts_stack.post("/assessments/NO-SUCH-CASE/final-plan", {"issued_on": "2024-01-01"})
    assert r.status_code == 404


async def test_same_body_again_is_200_and_a_different_body_is_409(ts_stack: Stack) -> None:
    s = ts_stack
    body = new_case_body(await s.today() - weeks(1))
    assert (await s.post("/assessments", body)).status_code == 201
    again = await s.post("/assessments", body)
    assert again.status_code == 200
    assert again.json()["case_ref"] == body["case_ref"]
    changed = {**body, "requested_by": "school"}
    r = await s.post("/assessments", changed)
    assert r.status_code == 409
    assert r.json()["error"] == "case_ref_taken"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"received_on": "2024-02-30"}, "invalid_input"),
        ({"case_ref": "has spaces and ünicode"}, "invalid_input"),
        ({"requested_by": "neighbour"}, "invalid_input"),
        ({"received_on": "2013-01-01"}, "before_regulations"),
        ({"received_on": "2099-01-01"}, "date_in_future"),
    ],
)
async def test_bad_new_cases_get_a_4xx_with_a_reason(
    ts_stack: Stack, change: dict[str, str], error: str
) -> None:
    s = ts_stack
    body = {**new_case_body(await s.today()), **change}
    r = await s.post("/assessments", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == error
    assert r.json()["detail"]


async def _wait_for_queue(s: Stack, refs: set[str], **params: str) -> list[dict[str, object]]:
    async def listed() -> list[dict[str, object]]:
        r = await s.get("/assessments", limit=500, **params)
        return [i for i in r.json()["items"] if i["case_ref"] in refs]

    return await eventually(
        listed, until=lambda items: {i["case_ref"] for i in items} == refs, what="the queue"
    )


async def test_queue_lists_breached_and_at_risk_cases_soonest_first(ts_stack: Stack) -> None:
    s = ts_stack
    today = await s.today()
    breached = (await create_case(s, today - weeks(7)))["case_ref"]  # decision overdue
    at_risk = (await create_case(s, today - weeks(5)))["case_ref"]  # decision due in 7 days
    calm = (await create_case(s, today - weeks(1)))["case_ref"]  # decision due in 5 weeks
    refs = {breached, at_risk, calm}
    items = await _wait_for_queue(s, refs)
    order = [i["case_ref"] for i in items]
    assert order.index(at_risk) < order.index(calm)
    risky = await _wait_for_queue(s, {at_risk}, status="at_risk")
    assert [i["case_ref"] for i in risky] == [at_risk]
    late = await _wait_for_queue(s, {breached}, status="breached")
    assert [i["case_ref"] for i in late] == [breached]
    r = await s.get("/assessments", cursor="not-a-cursor")
    assert r.status_code == 400
