"""Each exception kind accepted where the law allows it and refused, with its rule, where not."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.api.scenarios import create_case, limit, weeks
from tests.conftest import Stack


async def _assessing_case(s: Stack, weeks_ago: int = 22) -> tuple[str, Any]:
    day0 = await s.today() - weeks(weeks_ago)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    assert r.status_code == 200, r.text
    return ref, day0


async def test_personal_circumstances_turns_a_final_plan_breach_into_an_exception(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    ref, day0 = await _assessing_case(s)
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "final_plan")["status"] == "breached"
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "final_plan",
            "kind": "personal_circumstances",
            "reason": "bereavement in the family",
            "starts_on": (day0 + weeks(10)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    final = limit(r.json(), "final_plan")
    assert final["status"] == "exception"
    assert final["due_on"] == (day0 + weeks(20)).isoformat()  # the date never moves
    assert "reason" not in str(r.json()["exceptions"])  # free text stays in the store


async def test_absence_inside_the_period_is_accepted_and_too_short_refused(ts_stack: Stack) -> None:
    s = ts_stack
    ref, day0 = await _assessing_case(s)
    short = {
        "limit": "final_plan",
        "kind": "absent_from_area",
        "reason": "abroad",
        "starts_on": (day0 + weeks(8)).isoformat(),
        "ends_on": (day0 + weeks(8) + timedelta(days=20)).isoformat(),
    }
    r = await s.post(f"/assessments/{ref}/exceptions", short)
    assert r.status_code == 422
    assert r.json()["error"] == "exception_refused"
    assert "28" in r.json()["detail"]
    assert "reg 10(4)(d)" in r.json()["detail"]
    long = {**short, "ends_on": (day0 + weeks(13)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/exceptions", long)).status_code == 201


async def test_school_closure_window(ts_stack: Stack) -> None:
    s = ts_stack
    ref, day0 = await _assessing_case(s)
    closure = {
        "name": "Oak Primary",
        "closed_on": (day0 + weeks(6)).isoformat(),
        "reopens_on": (day0 + weeks(12)).isoformat(),
    }
    outside = {
        "limit": "final_plan",
        "kind": "school_closure",
        "reason": "summer holiday",
        "institution": {**closure, "advice_requested_on": (day0 + weeks(4)).isoformat()},
    }
    r = await s.post(f"/assessments/{ref}/exceptions", outside)
    assert r.status_code == 422
    assert "window" in r.json()["detail"]
    inside = {
        **outside,
        "institution": {**closure, "advice_requested_on": (day0 + weeks(6)).isoformat()},
    }
    r = await s.post(f"/assessments/{ref}/exceptions", inside)
    assert r.status_code == 201, r.text
    assert limit(r.json(), "final_plan")["status"] == "exception"


@pytest.mark.parametrize(
    ("limit_name", "kind", "expected"),
    [
        ("final_plan", "missed_appointment", 422),
        ("decision_to_assess", "missed_appointment", 422),
        ("final_plan", "coronavirus", 422),
        ("advice", "school_closure", 422),
        ("advice", "early_years_closure", 422),
        ("advice", "missed_appointment", 201),
        ("advice", "personal_circumstances", 201),
        ("no_plan_notice", "personal_circumstances", 201),
        ("decision_to_assess", "personal_circumstances", 201),
        ("final_plan", "early_years_closure", 201),
        ("no_plan_notice", "school_closure", 201),
    ],
)
async def test_which_kinds_each_limit_admits(
    ts_stack: Stack, limit_name: str, kind: str, expected: int
) -> None:
    s = ts_stack
    ref, day0 = await _assessing_case(s)
    body: dict[str, Any] = {
        "limit": limit_name,
        "kind": kind,
        "reason": "recorded in file",
        "starts_on": (day0 + weeks(1)).isoformat(),
    }
    if limit_name == "advice":
        r = await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "health", "requested_on": (day0 + weeks(5)).isoformat()},
        )
        body["advice_id"] = r.json()["id"]
        body["starts_on"] = (day0 + weeks(7)).isoformat()
    if kind.endswith("closure"):
        body["institution"] = {
            "name": "Nursery",
            "closed_on": (day0 + weeks(6)).isoformat(),
            "reopens_on": (day0 + weeks(12)).isoformat(),
            "advice_requested_on": (day0 + weeks(6)).isoformat(),
        }
    r = await s.post(f"/assessments/{ref}/exceptions", body)
    assert r.status_code == expected, r.text
    if expected == 422:
        assert r.json()["error"] == "exception_refused"


async def test_refusal_to_assess_admits_only_coronavirus(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "not_assess", "decided_on": (day0 + weeks(7)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "decision_to_assess",
            "kind": "personal_circumstances",
            "reason": "illness",
            "starts_on": (day0 + weeks(1)).isoformat(),
        },
    )
    assert r.status_code == 422
    assert "4(1)" in r.json()["detail"]


async def test_coronavirus_exception_only_for_limits_due_in_2020_window(ts_stack: Stack) -> None:
    s = ts_stack
    ref = (await create_case(s, date(2020, 3, 2)))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {"limit": "decision_to_assess", "kind": "coronavirus", "reason": "lockdown"},
    )
    assert r.status_code == 422  # due 13 April 2020, before the window
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {"limit": "final_plan", "kind": "coronavirus", "reason": "lockdown"},
    )
    assert r.status_code == 201, r.text  # due 20 July 2020
    assert limit(r.json(), "final_plan")["status"] == "exception"
