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


# --- rules.md 8.1: the circumstance must fall in the limit's period -------------------


async def _issued_plan(s: Stack) -> tuple[str, Any]:
    """A plan issued late, in week 22, on a case received 30 weeks ago."""
    day0 = await s.today() - weeks(30)
    ref = (await create_case(s, day0))["case_ref"]
    for path, body in (
        ("decision-to-assess", {"decision": "assess", "decided_on": day0 + weeks(5)}),
        ("decision-to-issue", {"decision": "issue", "decided_on": day0 + weeks(12)}),
        ("draft-plan", {"served_on": day0 + weeks(13)}),
        ("final-plan", {"issued_on": day0 + weeks(22)}),
    ):
        payload = {k: v.isoformat() if isinstance(v, date) else v for k, v in body.items()}
        r = await s.post(f"/assessments/{ref}/{path}", payload)
        assert r.status_code == 200, r.text
    return ref, day0


async def test_exception_about_months_after_the_plan_is_refused_with_the_regulations_words(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    ref, day0 = await _issued_plan(s)
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "final_plan",
            "kind": "personal_circumstances",
            "reason": "bereavement",
            "starts_on": (day0 + weeks(27)).isoformat(),
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "exception_refused"
    assert "during that time period" in r.json()["detail"]
    assert "reg 13(3) with reg 10(4)(c)" in r.json()["detail"]
    closure = {
        "limit": "final_plan",
        "kind": "school_closure",
        "reason": "summer holiday",
        "institution": {
            "name": "Oak Primary",
            "closed_on": (day0 + weeks(23)).isoformat(),
            "reopens_on": (day0 + weeks(29)).isoformat(),
            "advice_requested_on": (day0 + weeks(23)).isoformat(),
        },
    }
    r = await s.post(f"/assessments/{ref}/exceptions", closure)
    assert r.status_code == 422, r.text
    assert "does not fall within" in r.json()["detail"]
    view = (await s.get(f"/assessments/{ref}")).json()
    assert limit(view, "final_plan")["status"] == "breached"


async def test_exception_recorded_after_the_plan_about_the_period_is_accepted(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    ref, day0 = await _issued_plan(s)
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "final_plan",
            "kind": "personal_circumstances",
            "reason": "bereavement",
            "starts_on": (day0 + weeks(10)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    view = r.json()
    assert limit(view, "final_plan")["status"] == "exception"
    recorded = [e for e in view["events"] if e["kind"] == "exception_recorded"]
    assert recorded
    assert recorded[-1]["entered_at"][:10] >= (day0 + weeks(22)).isoformat()  # entered later


async def test_exception_dated_in_the_future_is_refused(ts_stack: Stack) -> None:
    s = ts_stack
    ref, _ = await _assessing_case(s, weeks_ago=10)
    today = await s.today()
    r = await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "final_plan",
            "kind": "absent_from_area",
            "reason": "abroad",
            "starts_on": (today - timedelta(days=5)).isoformat(),
            "ends_on": (today + timedelta(days=40)).isoformat(),
        },
    )
    assert r.status_code == 422, r.text
    assert "in the future" in r.json()["detail"]


async def test_decision_notified_late_is_measured_by_its_notice(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {
            "decision": "assess",
            "decided_on": (day0 + weeks(6)).isoformat(),
            "notified_on": (day0 + weeks(6) + timedelta(days=3)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    d2a = limit(r.json(), "decision_to_assess")
    assert d2a["status"] == "breached"
    assert d2a["met_on"] == (day0 + weeks(6) + timedelta(days=3)).isoformat()


async def test_guidance_advice_is_shown_apart_and_never_breaches_the_case(ts_stack: Stack) -> None:
    s = ts_stack
    ref, day0 = await _assessing_case(s, weeks_ago=15)
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {
            "agency": "education",
            "requested_on": (day0 + weeks(5)).isoformat(),
            "received_on": (day0 + weeks(5) + timedelta(days=3)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    view = r.json()["case"]
    advice = limit(view, "advice", r.json()["id"])
    assert advice["statutory"] is False
    assert advice["status"] == "breached"
    assert advice["due_on"] == (day0 + weeks(11)).isoformat()  # from the request (CoP 9.41)
    assert not view["breached"]
