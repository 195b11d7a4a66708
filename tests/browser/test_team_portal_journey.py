"""A health clinician answers a request from the email alone, in a real Chromium.

The journey starts from the request notice the worker sent to the tests' SMTP server: open
its link, ask for a sign-in link (another team's address gets none), follow the link from
the next message, send the form with sections missing and see every one listed, complete
it and see the confirmation; the caseworker's case page then shows the sections. Every
page is checked with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from ehc.store import accounts, repository
from tests.api.scenarios import new_case_body, weeks
from tests.api.test_team_portal import seed_requests
from tests.browser.conftest import Live, chromium_path
from tests.browser.test_caseworker_journey import PASSWORD, check_axe
from tests.conftest import MailServer, Received
from tests.waiting import eventually

OWN = "paediatrics.send@nhs.example"
OTHER = "camhs.send@nhs.example"
RESPOND = re.compile(r"https?://[^/\s]+(/respond/\S+)")


async def messages(mail: MailServer, pick: Any, what: str) -> list[Received]:
    async def found() -> list[Received]:
        return [m for m in mail.messages if pick(m)]

    result: list[Received] = await eventually(found, until=bool, timeout=30, what=what)
    return result


async def health_request(live: Live, team: str) -> tuple[str, str]:
    stack = live.stack
    today = await stack.today()
    body = new_case_body(today - weeks(3))
    body["child"] = {"given_name": "Priya", "family_name": "Portal", "date_of_birth": "2016-07-08"}
    assert (await stack.post("/assessments", body)).status_code == 201
    ref = body["case_ref"]
    decided = (today - weeks(2)).isoformat()
    await stack.post(
        f"/assessments/{ref}/decision-to-assess", {"decision": "assess", "decided_on": decided}
    )
    r = await stack.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": decided, "team": team},
    )
    assert r.status_code == 201, r.text
    return ref, str(r.json()["id"])


async def test_a_clinician_answers_a_request_from_the_email_alone(
    live: Live, mail_server: MailServer
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    base = live.base_url
    ref, advice_id = await health_request(live, "community-paediatrics")
    _other_ref, other_id = await health_request(live, "camhs")
    notice = (
        await messages(
            mail_server,
            lambda m: m.key.startswith(f"{advice_id}:") and OWN in m.to,
            "the request notice",
        )
    )[0]
    found = RESPOND.search(notice.body)
    assert found, notice.body
    assert found.group(1) == f"/respond/{advice_id}"
    assert "Priya" not in notice.body

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        try:
            # The link in the notice asks for the team's address.
            await page.goto(base + found.group(1))
            await check_axe(page, "respond sign-in")
            seen = len(mail_server.messages)
            await page.fill("#email", OTHER)
            await page.get_by_role("button", name="Send me a sign-in link").click()
            await page.wait_for_url(f"{base}/respond/sign-in-link")
            assert "Check your email" in await page.locator("h1").inner_text()
            await check_axe(page, "check your email")
            await page.goto(base + found.group(1))
            await page.fill("#email", OWN)
            await page.get_by_role("button", name="Send me a sign-in link").click()
            await page.wait_for_url(f"{base}/respond/sign-in-link")
            sign_in = (
                await messages(
                    mail_server,
                    lambda m: m.key.startswith("sign-in:") and OWN in m.to,
                    "the sign-in link",
                )
            )[-1]
            assert not [m for m in mail_server.messages[seen:] if OTHER in m.to]
            link = re.search(r"https?://\S+/respond/link\?token=\S+", sign_in.body)
            assert link, sign_in.body

            # The link from the next message signs the team in, straight to the request.
            await page.goto(link.group(0))
            await check_axe(page, "sign-in button")
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/respond/{advice_id}")
            await check_axe(page, "request")
            summary = await page.locator(".govuk-summary-list").inner_text()
            assert "Priya Portal" in summary
            assert "8 July 2016" in summary

            # Sent with sections missing: every one is listed.
            await page.fill("#professional", "Dr A. Paediatrician")
            await page.fill("#health_needs", "Summary of needs")
            await page.fill("[id='provision']", "Physiotherapy")
            await page.get_by_role("button", name="Send advice").click()
            await page.wait_for_selector(".govuk-error-summary")
            await check_axe(page, "request with errors")
            problems = await page.locator(".govuk-error-summary__list li").all_inner_texts()
            assert len(problems) == 3, problems
            assert any("Service" in p for p in problems)
            assert any("Outcomes" in p for p in problems)
            assert any("provision-1" not in p and "who" in p for p in problems)

            # Completed, it is received, with a reference.
            await page.fill("#service", "Community paediatrics")
            await page.fill("[id='outcomes']", "Walks 50m")
            await page.fill("[id='outcomes-1-measure']", "50m unaided")
            await page.fill("[id='outcomes-1-timescale']", "by July")
            await page.fill("[id='provision-1-who']", "NHS physio")
            await page.fill("[id='provision-1-how_often']", "weekly")
            await page.get_by_role("button", name="Send advice").click()
            await page.wait_for_selector(".govuk-panel")
            await check_axe(page, "confirmation")
            assert (await page.locator("#reference").inner_text()).startswith(f"{ref}-")

            # Another team's request is not there for this team.
            other = await page.goto(f"{base}/respond/{other_id}")
            assert other is not None
            assert other.status == 404
            await check_axe(page, "not found (the service's error page)")

            # A long list comes 50 at a time, with the Design System's pagination.
            await seed_requests(live.stack, "community-paediatrics", 55, date(2000, 1, 1))
            await page.goto(f"{base}/respond")
            await check_axe(page, "list, page 1")
            assert (await page.locator("#showing").inner_text()).startswith("Showing 1 to 50 of ")
            assert await page.locator("tbody tr").count() == 50
            pages = page.get_by_role("navigation", name="Pages of your team's requests")
            await pages.get_by_role("link", name="Next").click()
            await page.wait_for_url(f"{base}/respond?page=2")
            await check_axe(page, "list, page 2")
            assert (await page.locator("#showing").inner_text()).startswith("Showing 51 to ")
            assert await pages.locator("[aria-current=page]").inner_text() == "2"

            # The caseworker's case page shows the sections the team sent.
            staff = await browser.new_page()
            staff.set_default_timeout(20_000)
            email = f"portal-{uuid.uuid4().hex[:6]}@council.example"
            async with live.stack.sessions() as session:
                user, _ = await repository.create_user(
                    session, name="Case Worker", role="caseworker"
                )
                await accounts.set_password(
                    session, user_id=user.id, email=email, password=PASSWORD
                )
            await staff.goto(f"{base}/cases/{ref}")
            await staff.fill("#email", email)
            await staff.fill("#password", PASSWORD)
            await staff.get_by_role("button", name="Sign in").click()
            await staff.wait_for_url(f"{base}/cases/{ref}")
            text = await staff.locator("body").inner_text()
            assert "Sections: health_needs, outcomes, professional, provision, service" in text
        finally:
            await browser.close()
