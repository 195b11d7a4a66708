"""Every path of an assessment through the API, on both Temporal servers.

Backdated cases (Day 0 weeks ago, events entered with their true dates) need no waiting:
limits already past are evaluated at once, so these run on the real dev server too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.scenarios import create_case, event_kinds, limit, statuses, weeks
from tests.conftest import Stack


async def test_on_time_case_meets_every_limit(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(19)
    case = await create_case(s, day0)
    ref = case["case_ref"]
    assert case["stage"] == "awaiting_decision_to_assess"
    assert limit(case, "final_plan")["due_on"] == (day0 + weeks(20)).isoformat()

    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    assert r.status_code == 200, r.text
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(5)).isoformat()},
    )
    assert r.status_code == 201, r.text
    advice = r.json()
    assert advice["due_on"] == (day0 + weeks(11)).isoformat()
    assert advice["regulation"] == "SEND Regs 2014 reg 8(1)"
    r = await s.post(
        f"/advice-requests/{advice['id']}/received", {"received_on": (day0 + weeks(10)).isoformat()}
    )
    assert r.status_code == 200, r.text
    for path, body in [
        ("decision-to-issue", {"decision": "issue", "decided_on": (day0 + weeks(12)).isoformat()}),
        ("draft-plan", {"served_on": (day0 + weeks(14)).isoformat()}),
        ("final-plan", {"issued_on": (day0 + weeks(18)).isoformat()}),
    ]:
        r = await s.post(f"/assessments/{ref}/{path}", body)
        assert r.status_code == 200, r.text
    view = r.json()
    assert view["stage"] == "plan_issued"
    assert statuses(view) == {
        "decision_to_assess": "met",
        f"advice:{advice['id']}": "met",
        "no_plan_notice": "not_applicable",
        "draft_representations": "met",
        "final_plan": "met",
    }
    assert view["flags"] == []
    assert not view["breached"]
    got = (await s.get(f"/assessments/{ref}")).json()
    assert got["child"]["given_name"] == "Amelia"
    assert event_kinds(got)[0] == "request_received"


async def test_backdated_case_breaches_at_once_and_late_entry_corrects_it(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(8)
    case = await create_case(s, day0)
    ref = case["case_ref"]
    assert limit(case, "decision_to_assess")["status"] == "breached"
    assert case["breached"] is True
    assert "limit_breached" in event_kinds(case)

    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(6)).isoformat()},
    )
    view = r.json()
    assert limit(view, "decision_to_assess")["status"] == "met"
    assert view["breached"] is False
    kinds = event_kinds(view)
    assert kinds.index("limit_breached") < kinds.index("breach_corrected")


async def test_late_decision_stays_breached(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    late = day0 + weeks(6) + timedelta(days=1)
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": late.isoformat()},
    )
    assert limit(r.json(), "decision_to_assess")["status"] == "breached"


async def test_refusal_to_assess_closes_the_case(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(4)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "not_assess", "decided_on": (day0 + weeks(4)).isoformat()},
    )
    view = r.json()
    assert view["stage"] == "closed_not_assessed"
    assert statuses(view) == {
        "decision_to_assess": "met",
        "no_plan_notice": "not_applicable",
        "final_plan": "not_applicable",
    }
    r = await s.post(f"/assessments/{ref}/draft-plan", {"served_on": (day0 + weeks(4)).isoformat()})
    assert r.status_code == 409
    assert r.json()["error"] == "case_closed"


async def test_no_plan_outcome(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(17)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(6)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/decision-to-issue",
        {"decision": "not_issue", "decided_on": (day0 + weeks(15)).isoformat()},
    )
    view = r.json()
    assert view["stage"] == "closed_no_plan"
    assert limit(view, "no_plan_notice")["status"] == "met"
    assert limit(view, "final_plan")["status"] == "not_applicable"


async def test_no_plan_notice_late_is_breached(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(18)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(6)).isoformat()},
    )
    view = (await s.get(f"/assessments/{ref}")).json()
    no_plan = limit(view, "no_plan_notice")
    # rules.md 8.3: pending (and at risk) until the outcome is known, never a provisional breach
    assert no_plan["status"] == "pending"
    assert no_plan["at_risk"]
    assert not view["breached"]
    r = await s.post(
        f"/assessments/{ref}/decision-to-issue",
        {"decision": "not_issue", "decided_on": (day0 + weeks(17)).isoformat()},
    )
    assert limit(r.json(), "no_plan_notice")["status"] == "breached"
    assert r.json()["breached"]


async def test_withdrawal_makes_later_limits_not_applicable(any_stack: Stack) -> None:
    s = any_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    r = await s.post(
        f"/assessments/{ref}/withdrawal",
        {"withdrawn_on": (day0 + weeks(2)).isoformat(), "reason": "family moved"},
    )
    view = r.json()
    assert view["stage"] == "withdrawn"
    assert set(statuses(view).values()) == {"not_applicable"}


async def test_finalising_inside_representation_period_is_accepted_but_flagged(
    any_stack: Stack,
) -> None:
    s = any_stack
    day0 = await s.today() - weeks(19)
    ref = (await create_case(s, day0))["case_ref"]
    for path, body in [
        ("decision-to-assess", {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()}),
        ("decision-to-issue", {"decision": "issue", "decided_on": (day0 + weeks(12)).isoformat()}),
        ("draft-plan", {"served_on": (day0 + weeks(16)).isoformat()}),
        ("final-plan", {"issued_on": (day0 + weeks(16) + timedelta(days=14)).isoformat()}),
    ]:
        r = await s.post(f"/assessments/{ref}/{path}", body)
        assert r.status_code == 200, r.text
    view = r.json()
    assert view["flags"] == ["finalised_inside_representation_period"]
    assert limit(view, "final_plan")["status"] == "met"
    assert limit(view, "draft_representations")["status"] == "breached"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("decision-to-issue", {"decision": "issue", "decided_on": "{d2}"}, "out_of_order"),
        ("draft-plan", {"served_on": "{d2}"}, "out_of_order"),
        ("final-plan", {"issued_on": "{d2}"}, "out_of_order"),
        ("decision-to-assess", {"decision": "assess", "decided_on": "{before}"}, "before_day0"),
        ("decision-to-assess", {"decision": "assess", "decided_on": "{future}"}, "date_in_future"),
    ],
)
async def test_out_of_order_and_impossible_dates_are_refused(
    ts_stack: Stack, path: str, body: dict[str, str], code: str
) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    dates = {
        "d2": (day0 + weeks(2)).isoformat(),
        "before": (day0 - timedelta(days=1)).isoformat(),
        "future": (today + timedelta(days=3)).isoformat(),
    }
    filled = {k: v.format(**dates) for k, v in body.items()}
    r = await s.post(f"/assessments/{ref}/{path}", filled)
    assert r.status_code in (409, 422), r.text
    assert r.json()["error"] == code
    assert r.json()["detail"]


async def test_second_decision_is_refused(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    first = {"decision": "assess", "decided_on": (day0 + weeks(2)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", first)).status_code == 200
    second = {"decision": "not_assess", "decided_on": (day0 + weeks(2)).isoformat()}
    r = await s.post(f"/assessments/{ref}/decision-to-assess", second)
    assert r.status_code == 409
    assert r.json()["error"] == "already_decided"


async def test_retried_call_records_once(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    decision = {"decision": "assess", "decided_on": (day0 + weeks(2)).isoformat()}
    first = await s.post(f"/assessments/{ref}/decision-to-assess", decision)
    again = await s.post(f"/assessments/{ref}/decision-to-assess", decision)
    assert first.status_code == again.status_code == 200, again.text
    assert event_kinds(again.json()).count("decision_to_assess") == 1

    body = {"agency": "social_care", "requested_on": (day0 + weeks(2)).isoformat()}
    one = await s.post(f"/assessments/{ref}/advice-requests", body, **{"Idempotency-Key": "k1"})
    two = await s.post(f"/assessments/{ref}/advice-requests", body, **{"Idempotency-Key": "k1"})
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"]
    assert len(two.json()["case"]["advice_requests"]) == 1
    other = await s.post(f"/assessments/{ref}/advice-requests", body, **{"Idempotency-Key": "k2"})
    assert len(other.json()["case"]["advice_requests"]) == 2
