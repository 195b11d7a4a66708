"""A manager finds which cases are breaching and which teams are late, in a real Chromium:
each count on /manager links to a list with exactly that many cases (axe on each page)."""

from __future__ import annotations

import uuid
from typing import Any

from ehc.store import accounts, repository
from ehc.store import metrics_queries as mq
from tests.api.scenarios import new_case_body, weeks
from tests.browser.conftest import Live, chromium_path
from tests.browser.test_caseworker_journey import PASSWORD, check_axe
from tests.waiting import eventually


async def seed(live: Live) -> None:
    """A case past its decision limit, and one whose health advice is overdue."""
    stack = live.stack
    today = await stack.today()
    late = new_case_body(today - weeks(25))
    assert (await stack.post("/assessments", late)).status_code == 201
    body = new_case_body(today - weeks(10))
    assert (await stack.post("/assessments", body)).status_code == 201
    ref = body["case_ref"]
    decided = (today - weeks(9)).isoformat()
    await stack.post(
        f"/assessments/{ref}/decision-to-assess", {"decision": "assess", "decided_on": decided}
    )
    r = await stack.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": decided, "team": "community-paediatrics"},
    )
    assert r.status_code == 201, r.text

    async def projected() -> tuple[int, int]:
        async with stack.sessions() as session:
            return (
                len(await mq.breached_limits(session)),
                len(await mq.overdue_advice(session, today=today)),
            )

    await eventually(projected, until=lambda n: min(n) > 0, timeout=30, what="the store")


async def count_then_list(page: Any, base: str, row: Any, where: str) -> int:
    """The count in a chart row, and the number of cases on the list it links to."""
    link = row.locator("a.app-count")
    count = int((await link.inner_text()).split()[0])
    await link.click()
    await page.wait_for_load_state()
    await check_axe(page, where)
    listed = await page.locator("#rows tbody tr").count()
    assert listed == count, f"{where}: the figure says {count}, the list has {listed}"
    await page.go_back()
    return count


async def test_a_managers_counts_agree_with_the_cases_behind_them(live: Live) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    await seed(live)
    email = f"manager-{uuid.uuid4().hex[:6]}@council.example"
    async with live.stack.sessions() as session:
        user, _ = await repository.create_user(session, name="Morgan Manager", role="manager")
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
    base = live.base_url
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        try:
            await page.goto(f"{base}/manager")
            await page.fill("#email", email)
            await page.fill("#password", PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/manager")
            await check_axe(page, "manager")

            breached = 0
            for row in await page.locator("#breached tbody tr").all():
                text = await row.locator("a.app-count").inner_text()
                if text.split()[0] != "0":
                    breached += await count_then_list(page, base, row, "breached list")
            assert breached >= 1

            team = page.locator("#overdue-team tbody tr", has_text="community-paediatrics")
            assert await count_then_list(page, base, team, "overdue advice by team") >= 1
            agency = page.locator("#overdue-agency tbody tr[data-label='health']")
            assert await count_then_list(page, base, agency, "overdue advice by agency") >= 1
        finally:
            await browser.close()
