"""A backdated advice request: the team gets the request itself at once (and the overdue
notice when it is overdue), and only the escalation rung due now, not a burst."""

from __future__ import annotations

from datetime import date, timedelta

from ehc.chasing import ChasingPolicy, schedule
from tests.api.scenarios import create_case
from tests.conftest import MailServer, Stack
from tests.workflows.test_advice_chasing import DCO, TEAM, delivered
from workflows.advice import first_notices


def test_a_request_entered_eight_weeks_late_starts_with_the_request_then_the_rung_due_now() -> None:
    requested = date(2025, 1, 6)
    plan = schedule(
        requested_on=requested,
        due_on=requested + timedelta(weeks=6),
        policy=ChasingPolicy(),
        ladder_rungs=3,
    )
    first = first_notices(plan, requested + timedelta(weeks=8))
    assert [(n.kind.value, n.rung) for n in first] == [
        ("request", 0),
        ("overdue", 0),
        ("escalation", 2),
    ]
    on_time = first_notices(plan, requested)
    assert [n.kind.value for n in on_time] == ["request"]
    before_due = first_notices(plan, requested + timedelta(days=30))
    assert [n.kind.value for n in before_due] == ["request"]


async def test_a_backdated_request_sends_the_team_the_request_itself_at_once(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    s = ts_stack
    today = await s.today()
    requested = today - timedelta(weeks=8)
    ref = (await create_case(s, requested))["case_ref"]
    decision = {"decision": "assess", "decided_on": requested.isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decision)).status_code == 200
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {
            "agency": "health",
            "requested_on": requested.isoformat(),
            "team": "community-paediatrics",
        },
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]
    sent = await delivered(mail_server, advice_id, 3)
    assert sent == [("request", TEAM), ("overdue", TEAM), ("escalation", DCO)]
