"""A caseworker's day in a real Chromium: sign in, start a case, run it to a final plan,
see a refused step explained, watch the timeline and the limits change, correct Day 0 and
see every limit move, change the child's details, sign out.

Every page is checked with axe-core (no serious or critical violation); sign-in and a
decision are done with the keyboard alone. Screenshots of the worklist and of a late case
go to var/screenshots/ (EHC_SCREENSHOTS_DIR=docs/screenshots refreshes the README's).
"""

from __future__ import annotations

import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ehc.store import accounts, repository
from tests.api.scenarios import new_case_body, weeks
from tests.browser.conftest import Live, chromium_path
from tests.conftest import unique_ref

# Each run saves its screenshots under var/screenshots/ (not tracked); refresh the ones the
# README links to with EHC_SCREENSHOTS_DIR=docs/screenshots .venv/bin/pytest tests/browser.
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / os.environ.get("EHC_SCREENSHOTS_DIR", "var/screenshots")
PASSWORD = "correct horse battery staple"
SERIOUS = {"serious", "critical"}


async def check_axe(page: Any, where: str) -> None:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert not bad, f"axe on {where}: " + "; ".join(bad)


async def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has focus (bounded): proves it is reachable by keyboard."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


ALL_REACHED = """
(reached) => {
  // Radios in a group take one Tab stop (arrow keys move within it): one per group will do.
  const seen = new Set(reached);
  const groups = new Set();
  const focusable = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter((el) => el.checkVisibility() && !el.disabled);
  for (const el of focusable) {
    if (el.type === 'radio' && seen.has(el.dataset.tabProbe)) groups.add(el.name);
  }
  return focusable
    .filter((el) => !seen.has(el.dataset.tabProbe))
    .filter((el) => !(el.type === 'radio' && groups.has(el.name)))
    .map((el) => el.outerHTML.slice(0, 100));
}
"""


async def every_control_reachable_by_tab(page: Any, where: str) -> None:
    """Tab through the whole page (bounded) and check every visible control got focus."""
    await page.evaluate(
        "() => document.querySelectorAll('*').forEach((el, i) => el.dataset.tabProbe = i)"
    )
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(400):
        await page.keyboard.press("Tab")
        probe = await page.evaluate("() => document.activeElement.dataset.tabProbe || ''")
        if probe in reached:
            break
        if probe:
            reached.append(probe)
    missed = await page.evaluate(ALL_REACHED, reached)
    assert not missed, f"{where}: not reachable with the Tab key: {missed}"


async def type_date(page: Any, name: str, on: date, form: str = "") -> None:
    """Type a date into a GOV.UK date input (``form``: the step's id prefix)."""
    name = f"{form}-{name}" if form else name
    for part, value in (("day", on.day), ("month", on.month), ("year", on.year)):
        await page.fill(f"[id='{name}-{part}']", str(value))


async def lane_labels(page: Any) -> list[str]:
    labels: list[str] = await page.locator("svg.app-timeline g > text").all_text_contents()
    return labels


async def limit_status(page: Any, name: str) -> str:
    row = page.locator("#limits tbody tr", has_text=name).first
    text: str = await row.locator("td").nth(4).inner_text()
    return text.strip()


async def limit_cell(page: Any, name: str, column: int) -> str:
    row = page.locator("#limits tbody tr", has_text=name).first
    text: str = await row.locator("td").nth(column).inner_text()
    return text.strip()


def long_date(on: date) -> str:
    return f"{on.day} {on:%B %Y}"


async def test_a_caseworker_runs_a_case_from_request_to_final_plan_in_a_browser(
    live: Live,
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    stack = live.stack
    today = await stack.today()
    email = f"browser-{uuid.uuid4().hex[:6]}@council.example"
    async with stack.sessions() as session:
        user, _ = await repository.create_user(session, name="Alex Caseworker", role="caseworker")
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
    # Some cases in the worklist already, one of them late.
    late = new_case_body(today - weeks(25))
    late["child"] = {"given_name": "Jordan", "family_name": "Late", "date_of_birth": "2014-02-03"}
    for body in [late, new_case_body(today - weeks(4)), new_case_body(today - weeks(1))]:
        assert (await stack.post("/assessments", body)).status_code == 201

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        try:
            await journey(page, live, email, today, late["case_ref"])
        finally:
            await browser.close()


async def journey(page: Any, live: Live, email: str, today: date, late_ref: str) -> None:
    base = live.base_url

    # Signed out, the worklist sends us to sign in. Sign in with the keyboard alone.
    await page.goto(f"{base}/cases")
    assert page.url.startswith(f"{base}/sign-in")
    await check_axe(page, "sign-in")
    await tab_to(page, "#email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/cases")

    # The worklist: the late case is there, tagged, with its child's name.
    await check_axe(page, "worklist")
    late_row = page.locator("#worklist tbody tr", has_text=late_ref)
    assert "Jordan Late" in await late_row.inner_text()
    assert "Breached" in await late_row.inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "worklist.png"), full_page=True)

    # The late case's page: its final plan is breached, in the table, the picture, the words.
    await page.goto(f"{base}/cases/{late_ref}")
    await check_axe(page, "late case")
    assert await limit_status(page, "Decision whether to assess") == "Breached"
    assert "breached" in await page.locator("#timeline-in-words + ul").inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "late-case.png"), full_page=True)

    # Start an assessment.
    await page.goto(f"{base}/cases")
    await page.get_by_role("button", name="Start an assessment").click()
    await page.wait_for_url(f"{base}/cases/new")
    await check_axe(page, "new case")
    await every_control_reachable_by_tab(page, "new case")
    ref = unique_ref("B")  # random hex could spell a name or a date, which the API refuses
    live.stack.case_refs.append(ref)
    await page.fill("#case_ref", ref)
    await type_date(page, "received_on", today - weeks(12))
    await page.check("#requested_by")  # the first choice: parent
    await page.fill("[id='child.given_name']", "Sam")
    await page.fill("[id='child.family_name']", "Example")
    await type_date(page, "child.date_of_birth", date(2016, 5, 1))
    await page.get_by_role("button", name="Start assessment").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=started")
    await check_axe(page, "new case page")
    assert "Sam Example" in await page.locator("h1").inner_text()
    await every_control_reachable_by_tab(page, "case page")
    # Entered 12 weeks late, the decision's 6 weeks have passed: breached until we record it.
    assert await limit_status(page, "Decision whether to assess") == "Breached"
    lanes_before = await lane_labels(page)

    # The decision to assess, with the keyboard alone.
    await tab_to(page, "input[name='decision'][value='assess']")
    await page.keyboard.press("Space")
    for part, value in zip(
        ("day", "month", "year"), (today - weeks(7)).isoformat().split("-")[::-1], strict=True
    ):
        await tab_to(page, f"#decision-to-assess-decided_on-{part}", limit=5)
        await page.keyboard.type(str(int(value)))
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/cases/{ref}?done=decision-to-assess")
    assert "Decision recorded" in await page.locator(".govuk-notification-banner").inner_text()
    assert await limit_status(page, "Decision whether to assess") == "Met"
    await check_axe(page, "after decision")

    # An advice request: a new lane on the timeline and a row in the limits.
    form = page.locator("#form-advice-request")
    await form.locator("#advice-request-agency").select_option("health")
    await type_date(page, "requested_on", today - weeks(7) + timedelta(days=1), "advice-request")
    await form.get_by_role("button", name="Record advice request").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=advice-request")
    lanes_after = await lane_labels(page)
    assert "Advice: Health" in lanes_after
    assert "Advice: Health" not in lanes_before
    await check_axe(page, "after advice request")

    # A refused exception: the error summary gives the law's reason and links to the field.
    await page.locator("summary", has_text="Record an exception").click()
    form = page.locator("#form-exception")
    await form.locator("#exception-limit").select_option("decision_to_assess")
    await form.locator("#exception-kind").select_option("coronavirus")
    await type_date(page, "starts_on", today - weeks(10), "exception")
    await type_date(page, "ends_on", today - weeks(9), "exception")
    await form.locator("#exception-reason").fill("Trying a reason the law does not allow")
    await form.get_by_role("button", name="Record exception").click()
    summary = page.locator(".govuk-error-summary")
    await summary.wait_for()
    assert "There is a problem" in await summary.inner_text()
    await check_axe(page, "refused exception")
    await summary.locator("a[href='#exception-kind']").focus()
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "exception-kind"

    # The advice arrives: its lane shows the answer and its limit is met.
    await page.goto(f"{base}/cases/{ref}")
    assert await limit_status(page, "Advice") == "Breached"  # due a week ago, no answer
    await page.locator("summary", has_text="Record advice that arrived").click()
    form = page.locator("#form-advice-received")
    await form.locator("#advice-received-advice_id").select_option(index=1)
    await type_date(page, "received_on", today - weeks(2), "advice-received")
    await form.get_by_role("button", name="Record advice received").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=advice-received")
    assert await limit_status(page, "Advice") == "Met"
    words = await page.locator("#timeline-in-words + ul").inner_text()
    assert "Advice: Health" in words
    assert "met" in words.split("Advice: Health")[1].split("\n")[0]

    # The decision to issue, the draft and the final plan.
    form = page.locator("#form-decision-to-issue")
    await form.locator("input[value='issue']").check()
    await type_date(page, "decided_on", today - weeks(3), "decision-to-issue")
    await form.get_by_role("button", name="Record decision").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=decision-to-issue")

    await type_date(page, "served_on", today - weeks(2), "draft-plan")
    await page.get_by_role("button", name="Record draft plan").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=draft-plan")
    assert "Representations on the draft" in await lane_labels(page)
    assert await limit_status(page, "Final plan") == "Pending"

    await type_date(page, "issued_on", today, "final-plan")
    await page.get_by_role("button", name="Record final plan").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=final-plan")
    assert await limit_status(page, "Final plan") == "Met"
    assert "Plan issued" in await page.locator(".govuk-caption-l").inner_text()
    trail = await page.locator("#trail").inner_text()
    for kind in ("Decision to assess", "Advice requested", "Final plan issued"):
        assert kind in trail
    assert "Alex Caseworker" in trail
    await check_axe(page, "plan issued")

    # Correct Day 0 (typed a week early): every limit moves with it, and the trail shows
    # the correction and its reason just after the entry it amends.
    final_due = await limit_cell(page, "Final plan", 2)
    await page.locator("summary", has_text="Correct a date entered wrongly").click()
    await check_axe(page, "correction form")
    form = page.locator("#form-correction")
    day0 = await form.locator("option", has_text="(Day 0)").get_attribute("value")
    await form.locator("#correction-entry").select_option(day0)
    await type_date(page, "on", today - weeks(11), "correction")
    await form.locator("#correction-reason").fill("The letter was date-stamped a week late")
    await form.get_by_role("button", name="Correct the date").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=correction")
    assert "Date corrected" in await page.locator(".govuk-notification-banner").inner_text()
    assert await limit_cell(page, "Final plan", 2) != final_due
    assert await limit_cell(page, "Final plan", 2) == long_date(today - weeks(11) + weeks(20))
    rows = await page.locator("#trail tbody tr").all_inner_texts()
    first = next(i for i, row in enumerate(rows) if row.split("\t")[1].startswith("Request"))
    assert "Amended below" in rows[first]
    assert "Correction of the entry above" in rows[first + 1]
    assert "Reason: The letter was date-stamped a week late" in rows[first + 1]
    await check_axe(page, "after correction")

    # Change the child's details on their own page, pre-filled, by keyboard as well.
    await page.get_by_role("link", name="Change the child's details").click()
    await page.wait_for_url(f"{base}/cases/{ref}/child")
    await check_axe(page, "child's details")
    await every_control_reachable_by_tab(page, "child's details")
    assert await page.locator("#given_name").input_value() == "Sam"
    await page.fill("#given_name", "Samira")
    await page.get_by_role("button", name="Save the child's details").click()
    await page.wait_for_url(f"{base}/cases/{ref}?done=child")
    assert "Samira Example" in await page.locator("h1").inner_text()
    await check_axe(page, "after the child's details")

    # Sign out: the pages need signing in again.
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/signed-out")
    await check_axe(page, "signed out")
    await page.goto(f"{base}/cases")
    assert page.url.startswith(f"{base}/sign-in")


@pytest.mark.parametrize("path", ["/docs"])
async def test_the_api_docs_render_in_the_browser_without_the_internet(
    live: Live, path: str
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            outside: list[str] = []

            async def block(route: Any) -> None:
                outside.append(route.request.url)
                await route.abort()

            await page.route(lambda url: not url.startswith(live.base_url), block)
            await page.goto(f"{live.base_url}{path}")
            await page.locator(".swagger-ui .info .title").wait_for()
            assert "ehc-timeliness" in await page.locator(".swagger-ui .info .title").inner_text()
            assert not outside
        finally:
            await browser.close()
