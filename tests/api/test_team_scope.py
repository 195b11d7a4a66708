"""A team token answers only with that team's own advice request: never the case view,
never another team's ids. Walks every route of the API with a team token."""

from __future__ import annotations

import json
from typing import Any

from api.app import create_app
from ehc.settings import Settings
from tests.api.scenarios import create_case, eventually, weeks
from tests.api.test_advice_api import WHOLE
from tests.conftest import Stack

OWN_TEAM = "community-paediatrics"  # the test team user's team


def routes() -> list[tuple[str, str]]:
    app = create_app(Settings(environment="test"), temporal=None, sessions=None)
    found = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    assert len(found) > 20, "every route of the API"
    # reads first, so the submission that closes the request comes after them
    return sorted(found, key=lambda r: (r[0] != "GET", r[1].endswith("nil-return"), r))


def no_case_view(text: str) -> None:
    for key in ('"limits"', '"events"', '"exceptions"', '"advice_requests"', '"stage"'):
        assert key not in text, f"{key} in a team's answer: {text[:300]}"


async def test_every_route_a_team_can_reach_answers_only_with_its_own_request(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()},
    )
    ids = {}
    for team in (OWN_TEAM, "camhs"):
        r = await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "health", "requested_on": (day0 + weeks(1)).isoformat(), "team": team},
        )
        assert r.status_code == 201, r.text
        ids[team] = r.json()["id"]
    own, other = ids[OWN_TEAM], ids["camhs"]

    async def projected() -> bool:
        return (await s.get(f"/advice-requests/{own}", role="team")).status_code == 200

    await eventually(projected, what="the request in the store")
    today = (await s.today()).isoformat()
    bodies: dict[str, dict[str, Any]] = {
        "submission": {"submitted_on": today, "sections": WHOLE},
        "nil-return": {"on": today},
    }
    answered: list[str] = []
    for method, path in routes():
        for advice_id in (own, other):
            url = (
                path.replace("{case_ref}", ref)
                .replace("{advice_id}", advice_id)
                .replace("{team_id}", "camhs")
                .replace("{user_id}", "1")
            )
            body = bodies.get(path.rsplit("/", 1)[-1], {})
            params = {"mine": "true"} if path == "/advice-requests" else {}
            r = await s.http.request(
                method,
                url,
                headers=s.headers("team"),
                params=params,
                json=body if method in ("POST", "PUT", "PATCH") else None,
            )
            text = r.text
            assert other not in text, f"{method} {url} named another team's request"
            if path.startswith(("/health", "/readyz", "/timescales", "/metrics")):
                continue  # public: no case in them
            no_case_view(text)
            if r.status_code >= 400:
                assert set(r.json()) >= {"error", "detail"}, (method, url, text)
                continue
            answered.append(f"{method} {path}")
            data = json.loads(text)
            requests = data if isinstance(data, list) else [data]
            assert requests, (method, url)
            for request in requests:
                assert "team" in request, (method, url, text[:300])
                assert request["team"] == OWN_TEAM
                assert request["id"] == own or request["id"].startswith("T-")
            if advice_id == other:
                assert path == "/advice-requests", f"{method} {url} answered for another team"
    assert sorted(set(answered)) == [
        "GET /advice-requests",
        "GET /advice-requests/{advice_id}",
        "POST /advice-requests/{advice_id}/submission",
    ]
