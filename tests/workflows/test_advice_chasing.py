"""A health advice request that is never answered, chased by the book, to a real SMTP
server: the exact messages, on the exact dates, each exactly once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from ehc.statutory import end_of_london_day
from ehc.workdays import ENGLAND_BANK_HOLIDAYS
from tests.api.scenarios import create_case
from tests.conftest import START_MOMENTS, MailServer, Stack
from tests.waiting import eventually

# Each test runs from four moments of the London day (see tests/conftest.py): chasing must
# not depend on the hour CI happens to start.
pytestmark = pytest.mark.parametrize("start_moment", START_MOMENTS, indirect=True)

TEAM = "paediatrics.send@nhs.example"
LEAD = "paediatrics.lead@nhs.example"
DCO = "dco@icb.example"
SEND_MANAGER = "send.manager@council.example"

# (day after the request, kind, first recipient): the default policy for health.
EXPECTED = [
    (0, "request", TEAM),
    (28, "reminder", TEAM),
    (35, "reminder", TEAM),
    (42, "due_today", TEAM),
    (43, "overdue", TEAM),
    (43, "escalation", LEAD),
    (50, "escalation", DCO),
    (57, "escalation", SEND_MANAGER),
    (64, "escalation", SEND_MANAGER),
]


def ten_am(day: date) -> datetime:
    return end_of_london_day(day - timedelta(days=1)) + timedelta(hours=10)


def quiet_monday(after: date) -> date:
    """The first Monday on or after ``after`` whose next 70 days hold no bank holiday in
    England. Every notice of EXPECTED then falls on a Monday or Tuesday, a working day, so
    the working-day schedule (rules.md 8.5) sends on these exact days whatever the date the
    test runs (tests/ehc/test_statutory_working_days.py pins the moves themselves)."""
    day = after + timedelta(days=(7 - after.weekday()) % 7)
    while any(day + timedelta(days=n) in ENGLAND_BANK_HOLIDAYS for n in range(70)):
        day += timedelta(days=7)
    return day


async def until(stack: Stack, at: datetime) -> None:
    now = await stack.env.get_current_time()
    if at > now:
        await stack.sleep(at - now)


async def delivered(mail: MailServer, advice_id: str, count: int) -> list[tuple[str, str]]:
    """What the SMTP server holds for this request once ``count`` messages are in (the send
    runs a moment after the timer fires); fails with what arrived if they do not."""
    await eventually(
        lambda: mail.for_advice(advice_id),
        until=lambda got: len(got) >= count,
        what=f"{count} notices for {advice_id}",
    )
    return [(m.key.rsplit(":", 1)[1], m.to[0]) for m in mail.for_advice(advice_id)]


async def request_health_advice(s: Stack) -> tuple[str, date]:
    await until(s, ten_am(quiet_monday(await s.today())) - timedelta(hours=1))
    today = await s.today()
    ref = (await create_case(s, today))["case_ref"]
    decision = {"decision": "assess", "decided_on": today.isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decision)).status_code == 200
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": today.isoformat(), "team": "community-paediatrics"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["due_on"] == (today + timedelta(weeks=6)).isoformat()
    return r.json()["id"], today


async def test_unanswered_health_advice_is_chased_on_the_exact_dates(
    clock_stack: Stack, mail_server: MailServer
) -> None:
    s = clock_stack
    advice_id, day0 = await request_health_advice(s)
    checkpoints = sorted({day for day, _, _ in EXPECTED} | {27, 41, 60})
    for day in checkpoints:
        await until(s, ten_am(day0 + timedelta(days=day)))
        expected = [(kind, to) for d, kind, to in EXPECTED if d <= day]
        assert await delivered(mail_server, advice_id, len(expected)) == expected, f"day {day}"
    keys = [m.key for m in mail_server.for_advice(advice_id)]
    assert len(keys) == len(set(keys))  # exactly once each
    escalation = mail_server.for_advice(advice_id)[5]
    assert TEAM in escalation.to  # the team is copied on every escalation
    assert "Amelia" not in escalation.body
    assert "2015-03-04" not in escalation.body


async def test_chasing_survives_a_worker_restart_and_a_two_day_smtp_outage(
    clock_stack_no_worker: Stack, mail_server: MailServer
) -> None:
    s = clock_stack_no_worker
    async with s.worker(cached=False):
        advice_id, day0 = await request_health_advice(s)
        await until(s, ten_am(day0 + timedelta(days=36)))
        assert len(await delivered(mail_server, advice_id, 3)) == 3
    # The worker stopped in the middle of the case; a new one takes over.
    async with s.worker():
        await _outage_then_recovery(s, mail_server, advice_id, day0)


async def _outage_then_recovery(
    s: Stack, mail_server: MailServer, advice_id: str, day0: date
) -> None:
    mail_server.stop()  # the relay is down from day 41 to day 43
    await until(s, ten_am(day0 + timedelta(days=41)))
    await until(s, ten_am(day0 + timedelta(days=43)) - timedelta(hours=1))
    assert len(mail_server.for_advice(advice_id)) == 3  # nothing got through
    mail_server.start()
    await until(s, ten_am(day0 + timedelta(days=43)) + timedelta(hours=2))
    await until(s, ten_am(day0 + timedelta(days=58)))
    expected = [(kind, to) for d, kind, to in EXPECTED if d <= 58]
    assert await delivered(mail_server, advice_id, len(expected)) == expected
    keys = [m.key for m in mail_server.for_advice(advice_id)]
    assert len(keys) == len(set(keys))
    r = await s.get(f"/advice-requests/{advice_id}/notices")
    ledger = {n["key"]: n for n in r.json()}
    due_today = next(n for k, n in ledger.items() if k.endswith(":due_today"))
    assert due_today["status"] == "sent"
    assert due_today["attempts"] > 1  # it was retried through the outage, then sent once


async def test_received_advice_stops_the_chasing(
    clock_stack: Stack, mail_server: MailServer
) -> None:
    s = clock_stack
    advice_id, day0 = await request_health_advice(s)
    await until(s, ten_am(day0 + timedelta(days=30)))
    r = await s.post(
        f"/advice-requests/{advice_id}/received",
        {"received_on": (day0 + timedelta(days=30)).isoformat()},
    )
    assert r.status_code == 200, r.text
    await until(s, ten_am(day0 + timedelta(days=60)))
    assert [k for k, _ in await delivered(mail_server, advice_id, 2)] == ["request", "reminder"]


async def test_a_team_gets_one_digest_for_the_days_notices(
    clock_stack: Stack, mail_server: MailServer
) -> None:
    """Social care asks for digests in the sample directory (config/teams.yaml)."""
    s = clock_stack
    today = await s.today()
    ids = []
    for _ in range(2):
        ref = (await create_case(s, today))["case_ref"]
        await s.post(
            f"/assessments/{ref}/decision-to-assess",
            {"decision": "assess", "decided_on": today.isoformat()},
        )
        r = await s.post(
            f"/assessments/{ref}/advice-requests",
            {"agency": "social_care", "requested_on": today.isoformat()},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    await s.sleep(timedelta(minutes=15))  # the postbox's collection window, whatever the hour
    key = f"digest:childrens-disability.r0.{today.isoformat()}"
    # Other tests on this session's mail server may send the same team a digest that day.
    digests = await eventually(
        lambda: [m for m in mail_server.messages if m.key == key and ids[0] in m.body],
        what=f"the digest {key}",
    )
    assert len(digests) == 1
    assert all(advice_id in digests[0].body for advice_id in ids)
    assert digests[0].to == ["cdt@council.example"]
    assert all(mail_server.for_advice(advice_id) == [] for advice_id in ids)
    r = await s.get(f"/advice-requests/{ids[0]}/notices")
    assert [(n["kind"], n["status"]) for n in r.json()] == [("request", "sent")]
