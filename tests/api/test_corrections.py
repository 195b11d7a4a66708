"""Correcting what was entered, undoing a mistaken withdrawal, and reading it all back."""

from __future__ import annotations

from typing import Any

from temporalio.service import RPCError

from tests.api.scenarios import create_case, event_kinds, eventually, limit, weeks
from tests.conftest import Stack


def event(view: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in view["events"] if e["kind"] == kind)
    return found


async def test_correcting_a_decision_date_reevaluates_the_limit_and_keeps_both_versions(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(10)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(7)).isoformat()},
    )
    assert limit(r.json(), "decision_to_assess")["status"] == "breached"
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    assert r.status_code == 409
    assert r.json()["error"] == "already_decided"
    original = event((await s.get(f"/assessments/{ref}")).json(), "decision_to_assess")

    r = await s.post(
        f"/assessments/{ref}/corrections",
        {
            "event_id": original["seq"],
            "changes": {"decided_on": (day0 + weeks(5)).isoformat()},
            "reason": "Typed the date of the panel, not of the letter",
        },
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert limit(view, "decision_to_assess")["status"] == "met"
    assert limit(view, "decision_to_assess")["met_on"] == (day0 + weeks(5)).isoformat()
    assert view["breached"] is False
    kinds = event_kinds(view)
    assert kinds.count("decision_to_assess") == 1
    assert "corrected" in kinds
    assert "breach_corrected" in kinds
    first = next(e for e in view["events"] if e["seq"] == original["seq"])
    fix = event(view, "corrected")
    assert first["superseded_by"] == fix["seq"]
    assert first["occurred_on"] == (day0 + weeks(7)).isoformat()  # the original stays
    assert fix["detail"]["decided_on"] == (day0 + weeks(5)).isoformat()
    assert fix["detail"]["decided_on_was"] == (day0 + weeks(7)).isoformat()
    assert fix["note"] == "Typed the date of the panel, not of the letter"
    assert fix["entered_by_name"] == "test caseworker"
    # the reason never went to Temporal
    history = await s.env.client.get_workflow_handle(f"assessment-{ref}").fetch_history()
    assert "panel" not in history.to_json()


async def test_a_correction_that_makes_the_facts_impossible_is_refused_with_the_same_sentence(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(10)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    seq = event(r.json(), "decision_to_assess")["seq"]
    before = (day0 - weeks(1)).isoformat()
    direct = await s.post(
        f"/assessments/{(await create_case(s, day0))['case_ref']}/decision-to-assess",
        {"decision": "assess", "decided_on": before},
    )
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {"event_id": seq, "changes": {"decided_on": before}, "reason": "x"},
    )
    assert r.status_code == direct.status_code == 422
    assert r.json() == direct.json()
    future = (today + weeks(1)).isoformat()
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {"event_id": seq, "changes": {"decided_on": future}, "reason": "x"},
    )
    assert r.json()["error"] == "date_in_future"
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {"event_id": 1, "changes": {"received_on": (day0 + weeks(6)).isoformat()}, "reason": "x"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "before_day0"
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {"event_id": seq, "changes": {"served_on": today.isoformat()}, "reason": "x"},
    )
    assert r.status_code == 422
    assert "has no served_on" in r.json()["detail"]
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {"event_id": 999, "changes": {"decided_on": today.isoformat()}, "reason": "x"},
    )
    assert r.status_code == 404


async def test_correcting_day0_moves_every_limit(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {
            "event_id": 1,
            "changes": {"received_on": (day0 - weeks(4)).isoformat()},
            "reason": "The request came by post a month earlier",
        },
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["received_on"] == (day0 - weeks(4)).isoformat()
    assert limit(view, "decision_to_assess")["status"] == "breached"
    assert view["events"][0]["superseded_by"] is not None


async def test_a_mistaken_withdrawal_is_undone_and_chasing_resumes(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(6)
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
    r = await s.post(
        f"/assessments/{ref}/withdrawal",
        {"withdrawn_on": (day0 + weeks(6)).isoformat(), "reason": "Family moved away"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "withdrawn"
    assert r.json()["warnings"]
    assert advice_id in r.json()["warnings"][0]

    async def dropped() -> bool:
        mine = (await s.get("/advice-requests", role="team", mine="true")).json()
        return advice_id not in [a["id"] for a in mine]

    await eventually(dropped, what="the moved-on request off the team's list")

    r = await s.post(f"/assessments/{ref}/reopen", {"reason": "Wrong case: it was another child"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["stage"] == "gathering_advice"
    withdrawn = event(view, "withdrawn")
    assert withdrawn["superseded_by"] == event(view, "reopened")["seq"]
    assert withdrawn["note"] == "Family moved away"
    assert event(view, "reopened")["note"] == "Wrong case: it was another child"
    assert view["advice_requests"][0]["outcome"] == "outstanding"

    async def listed() -> bool:
        mine = (await s.get("/advice-requests", role="team", mine="true")).json()
        return advice_id in [a["id"] for a in mine]

    await eventually(listed, what="the reopened request back on the team's list")
    # chasing resumes: a new chaser for the request is running
    handle = s.env.client.get_workflow_handle(f"advice-{advice_id}-c1")

    async def chasing() -> bool:
        try:
            status = (await handle.describe()).status
        except RPCError:
            return False
        return status is not None and status.name == "RUNNING"

    await eventually(chasing, what="a new chaser running")

    r = await s.post(f"/assessments/{ref}/reopen", {"reason": "again"})
    assert r.status_code == 409
    assert r.json()["error"] == "not_reopenable"


async def test_correcting_an_advice_request_date_moves_its_limit_and_its_chasing(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(6)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(2)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(2)).isoformat()},
    )
    advice_id = r.json()["id"]
    seq = event(r.json()["case"], "advice_requested")["seq"]
    r = await s.post(
        f"/assessments/{ref}/corrections",
        {
            "event_id": seq,
            "changes": {"requested_on": (day0 + weeks(3)).isoformat()},
            "reason": "The letter went a week later",
        },
    )
    assert r.status_code == 200, r.text
    advice = limit(r.json(), "advice", advice_id)
    assert advice["due_on"] == (day0 + weeks(9)).isoformat()
    old = s.env.client.get_workflow_handle(f"advice-{advice_id}")
    new = s.env.client.get_workflow_handle(f"advice-{advice_id}-c1")

    async def rechased() -> bool:
        try:
            states = [(await h.describe()).status for h in (old, new)]
        except RPCError:
            return False
        return [st.name if st else None for st in states] == ["COMPLETED", "RUNNING"]

    await eventually(rechased, what="the old schedule stopped and a new one running")
