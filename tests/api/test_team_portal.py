"""The team portal over HTTP (no browser): a team signs in from an emailed one-time link,
sees only its own requests and the child they are about (each view logged), and answers
through a form generated from the agreed template. tests/browser drives it in Chromium."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from api.pages.paging import pagination, shown_pages
from ehc.models import ChildDetails
from ehc.store import advice_requests, repository, team_portal
from ehc.store.tables import AdviceRequestRow, TeamSignInLinkRow
from tests.api.test_advice_api import _health_request
from tests.conftest import MailServer, Received, Stack
from tests.ehc.store.conftest import advice_view, case_view
from tests.waiting import eventually

OWN = "paediatrics.send@nhs.example"
OTHER = "camhs.send@nhs.example"
LINK = re.compile(r"https?://\S+/respond/link\?token=(\S+)")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=stack.http._transport, base_url="http://api")


async def ask_for_link(http: httpx.AsyncClient, advice_id: str, email: str) -> httpx.Response:
    page = await http.get(f"/respond/{advice_id}")
    assert page.status_code == 200
    assert "Send me a sign-in link" in page.text
    return await http.post(
        "/respond/sign-in-link",
        data={"csrf_token": csrf(page.text), "email": email, "advice_id": advice_id},
    )


async def link_to(mail: MailServer, email: str, seen: int) -> str:
    def new() -> list[Received]:
        return [m for m in mail.messages[seen:] if email in m.to and m.key.startswith("sign-in:")]

    messages = await eventually(
        lambda: _ready(new()), until=bool, timeout=10, what=f"a sign-in link to {email}"
    )
    found = LINK.search(messages[-1].body)
    assert found, messages[-1].body
    return found.group(1)


async def _ready(value: list[Received]) -> list[Received]:
    return value


async def signed_in(stack: Stack, mail: MailServer, advice_id: str) -> httpx.AsyncClient:
    http = client(stack)
    seen = len(mail.messages)
    await ask_for_link(http, advice_id, OWN)
    token = await link_to(mail, OWN, seen)
    used = await http.post("/respond/link", data={"token": token})
    assert used.status_code == 303
    assert used.headers["location"] == f"/respond/{advice_id}"
    return http


WHOLE: dict[str, Any] = {
    "professional": "Dr A. Paediatrician",
    "service": "Community paediatrics",
    "health_needs": "Summary of needs",
    "outcomes-1-outcome": "Walks 50m",
    "outcomes-1-measure": "50m unaided",
    "outcomes-1-timescale": "by July",
    "provision-1-what": "Physiotherapy",
    "provision-1-who": "NHS physio",
    "provision-1-how_often": "weekly",
}


async def test_a_registered_address_gets_a_one_time_link_and_another_teams_gets_none(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    _ref, advice_id, _ = await _health_request(ts_stack, weeks_ago=3)
    http = client(ts_stack)
    seen = len(mail_server.messages)
    other = await ask_for_link(http, advice_id, OTHER)
    own = await ask_for_link(http, advice_id, OWN)
    assert other.status_code == own.status_code == 200
    assert "Check your email" in other.text
    assert other.text == own.text
    token = await link_to(mail_server, OWN, seen)
    assert not [m for m in mail_server.messages[seen:] if OTHER in m.to]
    assert "Amelia" not in mail_server.messages[-1].body  # no personal data in the email
    async with ts_stack.sessions() as session:
        stored = list(await session.scalars(select(TeamSignInLinkRow.token_hash)))
    assert token not in stored  # hashed at rest
    assert (await http.post("/respond/link", data={"token": token})).status_code == 303
    again = await client(ts_stack).post("/respond/link", data={"token": token})
    assert again.status_code == 400
    assert "expired" in again.text


async def test_a_team_answers_from_the_form_and_sees_every_missing_section(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    ref, advice_id, _ = await _health_request(ts_stack, weeks_ago=3)
    _other_ref, other_id, _ = await _health_request(ts_stack, weeks_ago=3, team="camhs")
    http = await signed_in(ts_stack, mail_server, advice_id)
    listing = await http.get("/respond")
    assert ref in listing.text
    assert other_id not in listing.text
    assert "Amelia Testcase" in listing.text  # which child, for its own team only
    page = await http.get(f"/respond/{advice_id}")
    assert "Amelia Testcase" in page.text
    assert "4 March 2015" in page.text
    for title in ("The child&#39;s health needs", "Outcomes", "Provision needed"):
        assert title in page.text  # the form is the agreed template's sections
    assert (await http.get(f"/respond/{other_id}")).status_code == 404

    partial = {k: v for k, v in WHOLE.items() if not k.startswith(("outcomes", "service"))}
    refused = await http.post(
        f"/respond/{advice_id}", data={"csrf_token": csrf(page.text), **partial}
    )
    assert refused.status_code == 422
    summary = refused.text.split("govuk-error-summary__list")[1].split("</ul>")[0]
    assert "&#39;Service&#39; is missing" in summary
    assert "&#39;Outcomes&#39; needs at least one entry" in summary
    assert "Dr A. Paediatrician" in refused.text  # what was typed is kept

    done = await http.post(f"/respond/{advice_id}", data={"csrf_token": csrf(page.text), **WHOLE})
    assert done.status_code == 200, done.text
    assert "Advice received" in done.text
    assert f"{ref}-" in done.text

    log = (await ts_stack.get("/access-log", role="manager")).json()
    seen = {e["what"] for e in log if e["advice_id"] == advice_id and e["viewer"] == OWN}
    assert seen == {"team_request_list", "team_request_page"}
    assert not [e for e in log if e["advice_id"] == other_id]
    assert (await ts_stack.get("/access-log", role="team")).status_code == 403


async def test_a_request_returned_for_quality_shows_the_reasons_and_the_previous_answers(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    _ref, advice_id, _ = await _health_request(ts_stack, weeks_ago=3)
    http = await signed_in(ts_stack, mail_server, advice_id)
    page = await http.get(f"/respond/{advice_id}")
    sent = await http.post(f"/respond/{advice_id}", data={"csrf_token": csrf(page.text), **WHOLE})
    assert sent.status_code == 200
    today = (await ts_stack.today()).isoformat()
    returned = await ts_stack.post(
        f"/advice-requests/{advice_id}/return",
        {"returned_on": today, "reasons": "The outcomes need a measure a school can check."},
    )
    assert returned.status_code == 200, returned.text

    async def shown() -> str:
        return (await http.get(f"/respond/{advice_id}")).text

    text = await eventually(
        shown, until=lambda t: "a school can check" in t, timeout=10, what="the reasons"
    )
    assert "Returned for quality" in text
    assert 'value="Walks 50m"' in text  # the previous answers, to edit


async def test_asking_again_and_again_does_not_flood_the_teams_inbox(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    _ref, advice_id, _ = await _health_request(ts_stack, weeks_ago=3)
    lead = "paediatrics.lead@nhs.example"  # on the team's ladder: registered too
    http = client(ts_stack)
    seen = len(mail_server.messages)
    for _ in range(7):
        assert (await ask_for_link(http, advice_id, lead)).status_code == 200
    await link_to(mail_server, lead, seen)

    async def sent() -> int:
        return len([m for m in mail_server.messages[seen:] if lead in m.to])

    assert await eventually(sent, until=lambda n: n == 5, timeout=10, what="five links") == 5


async def test_from_the_portals_front_page_a_teams_own_address_signs_in_to_its_list(
    ts_stack: Stack, mail_server: MailServer
) -> None:
    ref, _advice_id, _ = await _health_request(ts_stack, weeks_ago=3)
    http = client(ts_stack)
    page = await http.get("/respond")
    assert "Send me a sign-in link" in page.text
    seen = len(mail_server.messages)
    shared = "send.manager@council.example"  # on every team's ladder: no one team's address
    for email in (shared, OWN):
        answer = await http.post(
            "/respond/sign-in-link", data={"csrf_token": csrf(page.text), "email": email}
        )
        assert "Check your email" in answer.text
    token = await link_to(mail_server, OWN, seen)
    assert not [m for m in mail_server.messages[seen:] if shared in m.to]
    used = await http.post("/respond/link", data={"token": token})
    assert used.headers["location"] == "/respond"
    assert ref in (await http.get("/respond")).text


ROW_LINK = re.compile(r'href="/respond/([^"?/]+)"')


async def seed_requests(stack: Stack, team: str, count: int, first_due: date) -> list[str]:
    """``count`` open requests for ``team`` written straight to the store (one case and
    child each, due a day apart from ``first_due``); their ids, soonest due first."""
    prefix = f"T-PG{uuid.uuid4().hex[:6]}"
    ids = []
    async with stack.sessions() as session, session.begin():
        for n in range(count):
            ref = f"{prefix}-{n:03d}"
            advice_id = f"{ref}-adv1"
            await repository.project_case(
                session, case_view(ref, advice=[advice_view(advice_id, team=team)])
            )
            await session.execute(
                update(AdviceRequestRow)
                .where(AdviceRequestRow.id == advice_id)
                .values(due_on=first_due + timedelta(days=n))
            )
            child = ChildDetails.model_construct(
                given_name="Paged", family_name=_family_name(ref), date_of_birth=date(2016, 1, 1)
            )
            await repository.save_child(session, case_ref=ref, child=child, fingerprint=ref)
            ids.append(advice_id)
    return ids


def _family_name(case_ref: str) -> str:
    return "Child" + case_ref.removeprefix("T-PG").replace("-", "x")


async def _open_total(stack: Stack, team: str) -> int:
    async with stack.sessions() as session:
        listing = await advice_requests.team_requests_page(session, team=team, page=1)
    return listing.total


async def _signed_in_to_list(stack: Stack) -> httpx.AsyncClient:
    """Signed in from a link made in the store (the emailed links are rate-limited per
    address, and other tests here ask for them)."""
    async with stack.sessions() as session:
        token = await team_portal.create_link(
            session, team="community-paediatrics", email=OWN, advice_id=None, now=stack.clock()
        )
    http = client(stack)
    used = await http.post("/respond/link", data={"token": token})
    assert used.headers["location"] == "/respond"
    return http


async def test_a_long_list_shows_fifty_requests_a_page_soonest_due_first_and_logs_only_those(
    ts_stack: Stack,
) -> None:
    # Due long ago, so they head the team's list whatever else the shared store holds.
    other = await seed_requests(ts_stack, "camhs", 3, date(1999, 12, 1))
    own = await seed_requests(ts_stack, "community-paediatrics", 55, date(2000, 1, 1))
    total = await _open_total(ts_stack, "community-paediatrics")
    http = await _signed_in_to_list(ts_stack)

    first = await http.get("/respond")
    assert first.status_code == 200
    assert ROW_LINK.findall(first.text) == own[:50]
    assert f"Showing 1 to 50 of {total:,} requests" in first.text
    assert _family_name(own[0].removesuffix("-adv1")) in first.text  # the child, named
    assert _family_name(own[50].removesuffix("-adv1")) not in first.text
    nav = first.text.split('<nav class="govuk-pagination')[1].split("</nav>")[0]
    assert 'href="/respond?page=2"' in nav
    assert 'rel="next"' in nav
    assert 'aria-current="page"' in nav
    assert 'rel="prev"' not in nav

    log = (await ts_stack.get("/access-log", role="manager")).json()
    listed = [e["advice_id"] for e in log if e["what"] == "team_request_list"]
    assert sorted(a for a in listed if a in own) == own[:50]  # the children shown, once each

    second = await http.get("/respond?page=2")
    assert second.status_code == 200
    assert ROW_LINK.findall(second.text)[:5] == own[50:]
    assert f"Showing 51 to {min(100, total):,} of {total:,} requests" in second.text
    nav = second.text.split('<nav class="govuk-pagination')[1].split("</nav>")[0]
    assert 'href="/respond"' in nav
    assert 'rel="prev"' in nav
    for page in (first, second):
        assert not set(ROW_LINK.findall(page.text)) & set(other)  # another team's: never


async def test_a_page_that_is_not_there_gets_a_clear_answer(
    ts_stack: Stack,
) -> None:
    await seed_requests(ts_stack, "community-paediatrics", 1, date(2000, 1, 1))
    total = await _open_total(ts_stack, "community-paediatrics")
    last = -(-total // 50)
    http = await _signed_in_to_list(ts_stack)
    for junk in ("abc", "0", "-1", "2.5", "99999999999999999999999"):
        answer = await http.get("/respond", params={"page": junk})
        assert answer.status_code == 303, (junk, answer.status_code)
        assert answer.headers["location"] == "/respond"
    beyond = await http.get("/respond", params={"page": str(last + 1)})
    assert beyond.status_code == 404
    assert "Page not found" in beyond.text
    assert f"There is no page {last + 1} of your team&#39;s requests" in beyond.text
    assert 'href="/respond"' in beyond.text


def test_the_page_numbers_keep_the_ends_and_the_neighbours_with_an_ellipsis_between() -> None:
    assert shown_pages(1, 1) == [1]
    assert shown_pages(1, 3) == [1, 2, 3]
    assert shown_pages(1, 144) == [1, 2, None, 144]
    assert shown_pages(7, 144) == [1, None, 6, 7, 8, None, 144]
    assert shown_pages(3, 144) == [1, 2, 3, 4, None, 144]
    assert shown_pages(144, 144) == [1, None, 143, 144]
    assert pagination(1, 1, "/respond", "Pages") is None
    last = pagination(3, 3, "/respond", "Pages")
    assert last is not None
    assert last["previous"] == {"href": "/respond?page=2"}
    assert "next" not in last
    assert [i.get("href") for i in last["items"]] == [
        "/respond",
        "/respond?page=2",
        "/respond?page=3",
    ]
