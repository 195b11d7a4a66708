"""Teams submit their own advice against the agreed template; they see nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ehc.store import advice_requests, repository
from ehc.store.tables import SubmissionRow
from tests.api.scenarios import create_case, limit, weeks
from tests.conftest import Stack
from tests.waiting import eventually

WHOLE = {
    "professional": "Dr A. Paediatrician",
    "service": "Community paediatrics",
    "health_needs": "Summary of needs",
    "outcomes": [{"outcome": "Walks 50m", "measure": "50m unaided", "timescale": "by July"}],
    "provision": [{"what": "Physiotherapy", "who": "NHS physio", "how_often": "weekly"}],
}


async def _health_request(
    s: Stack, weeks_ago: int, team: str = "community-paediatrics"
) -> tuple[str, str, Any]:
    day0 = await s.today() - weeks(weeks_ago)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(1)).isoformat(), "team": team},
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]
    if team == "community-paediatrics":  # the team's list reads the store, written a moment later

        async def visible() -> int:
            return (await s.get(f"/advice-requests/{advice_id}", role="team")).status_code

        await eventually(visible, until=lambda code: code != 404, what="the team's view")
    return ref, advice_id, day0


async def test_missing_outcome_is_refused_then_the_resubmission_counts(ts_stack: Stack) -> None:
    s = ts_stack
    ref, advice_id, _day0 = await _health_request(s, weeks_ago=10)
    mine = (await s.get("/advice-requests", role="team", mine="true")).json()
    assert advice_id in [m["id"] for m in mine]
    today = await s.today()
    partial = {**WHOLE, "outcomes": [{"outcome": "Walks 50m", "measure": "50m unaided"}]}
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today.isoformat(), "sections": partial},
        role="team",
    )
    assert r.status_code == 422
    assert r.json()["error"] == "missing_input"
    assert r.json()["problems"] == ["outcomes: entry 1 is missing timescale."]
    no_outcomes = {k: v for k, v in WHOLE.items() if k != "outcomes"}
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today.isoformat(), "sections": no_outcomes},
        role="team",
    )
    assert "outcomes" in r.json()["detail"]

    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today.isoformat(), "sections": WHOLE},
        role="team",
    )
    assert r.status_code == 200, r.text
    advice = r.json()  # the team sees its own request, not the case
    assert advice["id"] == advice_id
    assert advice["advice_received_on"] == today.isoformat()
    assert advice["status"] == "breached"  # due 6 weeks after week 1: it came late
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["advice_requests"][0]["outcome"] == "received"


async def test_returned_for_quality_keeps_the_original_due_date(ts_stack: Stack) -> None:
    s = ts_stack
    _ref, advice_id, day0 = await _health_request(s, weeks_ago=4)
    received = (day0 + weeks(3)).isoformat()
    assert (
        await s.post(f"/advice-requests/{advice_id}/received", {"received_on": received})
    ).status_code == 200
    r = await s.post(
        f"/advice-requests/{advice_id}/return",
        {"returned_on": received, "reasons": "no measurable outcomes"},
    )
    assert r.status_code == 200, r.text
    advice = limit(r.json(), "advice", advice_id)
    assert (advice["status"], advice["met_on"]) == ("pending", None)
    assert advice["due_on"] == (day0 + weeks(7)).isoformat()
    assert r.json()["advice_requests"][0]["outcome"] == "returned_for_quality"


async def test_nil_return_answers_the_request(ts_stack: Stack) -> None:
    s = ts_stack
    _ref, advice_id, day0 = await _health_request(s, weeks_ago=3)
    r = await s.post(
        f"/advice-requests/{advice_id}/nil-return",
        {"on": (day0 + weeks(2)).isoformat()},
        role="team",
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "met"
    assert r.json()["outcome"] == "not_known_to_service"


async def test_unknown_team_is_refused(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(2)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": day0.isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": day0.isoformat(), "team": "no-such"},
    )
    assert r.status_code == 422
    assert r.json()["error"] == "unknown_team"


@pytest.fixture
async def other_team_token(ts_stack: Stack) -> str:
    async with ts_stack.sessions() as session:
        _, token = await repository.create_user(session, name="CAMHS", role="team", team="camhs")
    return token


async def test_a_team_sees_only_its_own_requests(ts_stack: Stack, other_team_token: str) -> None:
    s = ts_stack
    _ref, advice_id, _day0 = await _health_request(s, weeks_ago=3)
    other = {"Authorization": f"Bearer {other_team_token}"}
    today = (await s.today()).isoformat()
    for method, path, body in [
        ("GET", f"/advice-requests/{advice_id}", None),
        (
            "POST",
            f"/advice-requests/{advice_id}/submission",
            {"submitted_on": today, "sections": WHOLE},
        ),
        ("POST", f"/advice-requests/{advice_id}/nil-return", {"on": today}),
    ]:
        r = await s.http.request(method, path, json=body, headers=other)
        assert r.status_code == 404, (path, r.text)
    mine = await s.http.get("/advice-requests", params={"mine": "true"}, headers=other)
    assert advice_id not in [m["id"] for m in mine.json()]
    own = (await s.get(f"/advice-requests/{advice_id}", role="team")).json()
    assert set(own["child"]) == {"given_name", "family_name", "date_of_birth"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/advice-requests/{advice_id}/received"),
        ("POST", "/advice-requests/{advice_id}/return"),
        ("POST", "/advice-requests/{advice_id}/withdrawal"),
        ("GET", "/advice-requests/{advice_id}/notices"),
        ("GET", "/assessments/{ref}"),
        ("GET", "/assessments"),
        ("POST", "/assessments/{ref}/advice-requests"),
        ("GET", "/teams"),
        ("PUT", "/teams/camhs"),
        ("GET", "/advice-requests"),  # without ?mine=true: 400
    ],
)
async def test_what_a_team_token_cannot_do(ts_stack: Stack, method: str, path: str) -> None:
    s = ts_stack
    ref, advice_id, _ = await _health_request(s, weeks_ago=3)
    url = path.format(ref=ref, advice_id=advice_id)
    r = await s.http.request(method, url, json={}, headers=s.headers("team"))
    expected = 400 if path == "/advice-requests" else 403
    assert r.status_code == expected, r.text


async def test_admins_manage_the_team_directory(ts_stack: Stack) -> None:
    s = ts_stack
    team = {
        "id": "sensory",
        "agency": "health",
        "name": "Sensory support",
        "email": "sensory@nhs.example",
        "ladder": [{"role": "service_lead", "email": "sensory.lead@nhs.example"}],
    }
    r = await s.http.put("/teams/sensory", json=team, headers=s.headers("admin"))
    assert r.status_code == 200, r.text
    assert (
        await s.http.put("/teams/sensory", json=team, headers=s.headers("caseworker"))
    ).status_code == 403
    bad = await s.http.put(
        "/teams/sensory", json={**team, "email": "not an address"}, headers=s.headers("admin")
    )
    assert bad.status_code == 422
    listed = (await s.get("/teams")).json()
    assert "sensory" in [t["id"] for t in listed]


async def test_managers_see_chasing_and_missing_inputs_in_metrics(ts_stack: Stack) -> None:
    s = ts_stack
    ref, advice_id, _day0 = await _health_request(s, weeks_ago=3)
    today = (await s.today()).isoformat()
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today, "sections": {"service": "x"}},
        role="team",
    )
    assert r.status_code == 422

    async def notices() -> list[object]:  # the request notice is sent a moment after
        async with s.sessions() as session:
            return list(await advice_requests.list_notices(session, advice_id=advice_id))

    await eventually(notices, what="the request notice")
    text = (await s.http.get("/metrics")).text
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['ehc_missing_inputs_total{agency="health"}'] >= 1
    assert samples['ehc_notices_sent_total{agency="health",kind="request"}'] >= 1
    assert samples['ehc_advice_requests{agency="health",outcome="outstanding"}'] >= 1
    assert ref not in text
    assert advice_id not in text


async def test_a_submission_the_case_refuses_is_kept_and_marked_refused(ts_stack: Stack) -> None:
    s = ts_stack
    _, advice_id, day0 = await _health_request(s, weeks_ago=3)
    r = await s.post(
        f"/advice-requests/{advice_id}/withdrawal",
        {"withdrawn_on": (day0 + weeks(2)).isoformat(), "reason": "duplicate"},
    )
    assert r.status_code == 200, r.text
    today = (await s.today()).isoformat()
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": today, "sections": WHOLE},
        role="team",
    )
    assert r.status_code == 409
    assert r.json()["error"] == "advice_withdrawn"
    async with s.sessions() as session:
        rows = (
            await session.scalars(select(SubmissionRow).where(SubmissionRow.advice_id == advice_id))
        ).all()
    assert [(row.accepted, row.sections["service"]) for row in rows] == [
        (False, "Community paediatrics")
    ]
    assert "withdrawn" in rows[0].problems[-1]
