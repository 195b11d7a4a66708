"""What a team reads, end to end through the worker and a real SMTP server: the one link to
the team portal, the agreed template's sections from the directory file, the rule that binds
that agency, and for a return for quality the caseworker's reasons from the store, with the
child's identifiers removed."""

from __future__ import annotations

import re
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.notifications import NotificationActivities
from ehc.advice_templates import HEALTH_TEMPLATE
from ehc.notify.base import Email
from tests.api.scenarios import create_case, weeks
from tests.conftest import MailServer, Received, Stack
from tests.waiting import eventually

PUBLIC_URL = "http://127.0.0.1:8000"  # Settings.public_url in the tests' worker


async def _message(mail: MailServer, key: str) -> Received:
    found = await eventually(
        lambda: [m for m in mail.messages if m.key == key],
        until=bool,
        what=f"the notice {key}",
    )
    return found[0]


def _links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


async def test_a_health_team_is_told_what_to_write_and_why_its_advice_came_back(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(4)
    ref = (await create_case(s, day0))["case_ref"]
    on = (day0 + weeks(1)).isoformat()
    await s.post(f"/assessments/{ref}/decision-to-assess", {"decision": "assess", "decided_on": on})
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": on, "team": "community-paediatrics"},
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]

    request = await _message(mail_server, f"{advice_id}:1:request")
    assert _links(request.body) == [f"{PUBLIC_URL}/respond/{advice_id}"]
    assert ref in request.subject
    for rule in HEALTH_TEMPLATE.sections.values():
        assert f"- {rule.title}" in request.body
    assert "Regulation 8(1) of the SEND Regulations 2014" in request.body
    assert "9.41" not in request.body

    received = (day0 + weeks(3)).isoformat()
    r = await s.post(f"/advice-requests/{advice_id}/received", {"received_on": received})
    assert r.status_code == 200, r.text
    reasons = "Amelia Testcase (04/03/2015): the outcomes have no measures or timescales."
    r = await s.post(
        f"/advice-requests/{advice_id}/return", {"returned_on": received, "reasons": reasons}
    )
    assert r.status_code == 200, r.text

    returned = await _message(mail_server, f"{advice_id}:1001:returned_for_quality")
    assert "[removed] [removed] ([removed]): the outcomes have no measures or timescales." in (
        returned.body
    )
    for personal in ("Amelia", "Testcase", "2015"):
        assert personal not in returned.body
        assert personal not in returned.subject
    assert "does not meet the agreed template" not in returned.body
    assert "returned for quality" in returned.subject
    assert _links(returned.body) == [f"{PUBLIC_URL}/respond/{advice_id}"]
    assert "9.41" not in returned.body


async def test_a_notice_to_a_school_cites_only_the_code_of_practice(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(2)
    ref = (await create_case(s, day0))["case_ref"]
    on = (day0 + weeks(1)).isoformat()
    await s.post(f"/assessments/{ref}/decision-to-assess", {"decision": "assess", "decided_on": on})
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "education", "requested_on": on, "team": "schools"},
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]
    request = await _message(mail_server, f"{advice_id}:1:request")
    assert "SEND Code of Practice (2015), paragraph 9.41" in request.body
    assert "Regulation" not in request.body
    assert "- Needs" in request.body
    assert "Amelia" not in request.body
    assert _links(request.body) == [f"{PUBLIC_URL}/respond/{advice_id}"]


class _NoSender:
    channel = "test"

    async def send(self, email: Email) -> str | None:
        raise AssertionError("nothing is sent here")


async def test_reasons_missing_from_the_store_are_waited_for_briefly_then_left_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """If the API never saved the reasons (it crashed after recording the return), the
    notice still goes, a bounded moment later, pointing at the request instead."""
    notices = NotificationActivities(sessions, _NoSender(), PUBLIC_URL, reasons_wait_seconds=0.3)
    started = time.monotonic()
    reasons = await notices._reasons(
        key="NOPE-1-adv1:1001:returned_for_quality",
        kind="returned_for_quality",
        case_ref="NOPE-1",
        advice_id="NOPE-1-adv1",
    )
    assert reasons is None
    assert 0.3 <= time.monotonic() - started < 5
