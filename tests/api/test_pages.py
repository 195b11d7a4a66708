"""The caseworker's web pages over HTTP (no browser): assets, sign-in, CSRF, lockout, PRG.

The browser journey (tests/browser) drives the same pages in Chromium.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date
from importlib.metadata import metadata, version
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from api.webauth import COOKIE
from ehc.store import accounts, repository
from tests.api.scenarios import create_case, eventually, weeks
from tests.conftest import Stack, unique_ref

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
PASSWORD = "correct horse battery staple"


async def make_staff(stack: Stack, role: str = "caseworker") -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@council.example"
    async with stack.sessions() as session:
        user, _ = await repository.create_user(session, name=f"Web {role}", role=role)
        await accounts.set_password(session, user_id=user.id, email=email, password=PASSWORD)
    return email


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def date_fields(name: str, on: date) -> dict[str, str]:
    return {
        f"{name}-day": str(on.day),
        f"{name}-month": str(on.month),
        f"{name}-year": str(on.year),
    }


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/sign-in")
    return await http.post(
        "/sign-in",
        data={"csrf_token": form_token(page.text), "email": email, "password": password},
    )


@pytest.fixture
async def browser(ts_stack: Stack) -> httpx.AsyncClient:
    """A cookie-keeping client on the stack's app, signed in as a caseworker."""
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    response = await sign_in(http, await make_staff(ts_stack))
    assert response.status_code == 303
    return http


def test_vendored_govuk_frontend_is_the_version_the_macros_target() -> None:
    installed = version("govuk-frontend-jinja")
    readme = metadata("govuk-frontend-jinja").json.get("description", "")
    row = re.search(rf"\[{re.escape(installed)}\]\([^)]*\)\s*\|\s*\[([0-9.]+)\]", str(readme))
    assert row, f"govuk-frontend-jinja {installed} is not in its own compatibility table"
    vendored = (STATIC / "govuk" / "VERSION").read_text().strip()
    assert vendored == row.group(1)
    assert "MIT" in (STATIC / "govuk" / "LICENSE").read_text()


async def test_assets_and_api_docs_load_nothing_from_outside(ts_stack: Stack) -> None:
    http = ts_stack.http
    for path in [
        "/static/govuk/govuk-frontend.min.css",
        "/static/govuk/govuk-frontend.min.js",
        "/assets/fonts/bold-b542beb274-v2.woff2",
        "/assets/images/favicon.ico",
    ]:
        assert (await http.get(path)).status_code == 200, path
    docs = await http.get("/docs")
    assert docs.status_code == 200
    for url in re.findall(r'(?:src|href)="([^"]+)"', docs.text) + re.findall(
        r"url: '([^']+)'", docs.text
    ):
        assert url.startswith("/"), f"/docs loads {url} from outside the server"
        assert (await http.get(url)).status_code == 200, url
    sign_in_page = (await http.get("/sign-in")).text
    loads = re.findall(r'src="([^"]+)"', sign_in_page) + re.findall(
        r'<link[^>]*href="([^"]+)"', sign_in_page
    )
    assert loads
    for url in loads:
        assert url.startswith("/"), f"the sign-in page loads {url} from outside the server"


async def test_pages_send_a_signed_out_person_to_sign_in_and_back(ts_stack: Stack) -> None:
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    r = await http.get("/cases?status=breached")
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=%2Fcases%3Fstatus%3Dbreached"
    assert (await http.get("/")).headers["location"] == "/cases"
    email = await make_staff(ts_stack)
    page = await http.get(r.headers["location"])
    signed = await http.post(
        "/sign-in",
        data={
            "csrf_token": form_token(page.text),
            "email": email.upper(),
            "password": PASSWORD,
            "next": "/cases?status=breached",
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/cases?status=breached"
    cookie = signed.headers["set-cookie"].lower()
    assert f"{COOKIE}=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert (await http.get("/cases")).status_code == 200


async def test_sign_in_never_sends_anyone_to_another_site(ts_stack: Stack) -> None:
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    email = await make_staff(ts_stack)
    page = await http.get("/sign-in?next=//evil.example/")
    assert 'value="/cases"' in page.text
    r = await http.post(
        "/sign-in",
        data={
            "csrf_token": form_token(page.text),
            "email": email,
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert r.headers["location"] == "/cases"


async def test_sign_in_without_the_form_token_is_refused(ts_stack: Stack) -> None:
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    email = await make_staff(ts_stack)
    await http.get("/sign-in")
    r = await http.post("/sign-in", data={"email": email, "password": PASSWORD})
    assert r.status_code == 400
    assert "expired" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")


async def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    ts_stack: Stack,
) -> None:
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    email = await make_staff(ts_stack)
    for _ in range(accounts.MAX_FAILED_ATTEMPTS - 1):
        r = await sign_in(http, email, "wrong password!!")
        assert r.status_code == 401
        assert "Enter a correct email address and password" in r.text
    r = await sign_in(http, email, "wrong password!!")
    assert r.status_code == 429
    assert "locked" in r.text
    r = await sign_in(http, email)
    assert r.status_code == 429
    unknown = await sign_in(http, "nobody@council.example")
    assert unknown.status_code == 401


async def test_sign_out_ends_the_session_and_forms_need_the_session_token(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    page = await browser.get("/cases/new")
    assert page.status_code == 200
    forged = await browser.post("/sign-out", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert (await browser.get("/cases")).status_code == 200
    cookie = browser.cookies[COOKIE]
    out = await browser.post("/sign-out", data={"csrf_token": form_token(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/signed-out"
    # The old cookie is dead on the server too, not just deleted in this browser.
    replay = httpx.AsyncClient(
        transport=ts_stack.http._transport, base_url="http://api", cookies={COOKIE: cookie}
    )
    assert (await replay.get("/cases")).status_code == 303


async def test_bearer_tokens_keep_working_for_scripts(ts_stack: Stack) -> None:
    r = await ts_stack.get("/assessments")
    assert r.status_code == 200
    # and a session cookie is no way into the JSON API
    assert (await ts_stack.http.get("/assessments")).status_code == 401


async def test_a_team_user_cannot_see_case_pages(ts_stack: Stack) -> None:
    http = httpx.AsyncClient(transport=ts_stack.http._transport, base_url="http://api")
    await sign_in(http, await make_staff(ts_stack, role="team"))
    assert (await http.get("/cases")).status_code == 403


async def test_worklist_shows_the_child_status_tag_and_days(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    today = await s.today()
    late = await create_case(s, today - weeks(8))  # decision was due at 6 weeks
    for _ in range(100):  # the worker projects the case into the store: bounded wait
        page = await browser.get("/cases", params={"q": late["case_ref"]})
        if "Amelia Testcase" in page.text:
            break
        await asyncio.sleep(0.1)
    assert page.status_code == 200
    assert "Amelia Testcase" in page.text
    assert "Breached" in page.text
    listing = await browser.get("/cases", params={"status": "breached"})
    assert listing.status_code == 200
    assert "<table" in listing.text


async def test_a_caseworker_starts_a_case_and_records_a_decision_through_the_pages(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    today = await s.today()
    ref = unique_ref("W")
    new = await browser.get("/cases/new")
    form = {
        "csrf_token": form_token(new.text),
        "case_ref": ref,
        "requested_by": "parent",
        "child.given_name": "Robin",
        "child.family_name": "Pageson",
        **date_fields("received_on", today - weeks(3)),
        **date_fields("child.date_of_birth", date(2016, 5, 1)),
    }
    r = await browser.post("/cases/new", data=form)
    assert r.status_code == 303, r.text
    s.case_refs.append(ref)
    assert r.headers["location"] == f"/cases/{ref}?done=started"
    case = await browser.get(r.headers["location"])
    assert case.status_code == 200
    assert "Robin Pageson" in case.text
    assert "<svg" in case.text
    assert "The timeline in words" in case.text
    assert "Record the decision whether to assess" in case.text
    key = uuid.uuid4().hex
    decision = {
        "csrf_token": form_token(case.text),
        "idempotency_key": key,
        "decision": "assess",
        **date_fields("decided_on", today - weeks(1)),
    }
    for _ in range(2):  # a double submit records once
        done = await browser.post(f"/cases/{ref}/steps/decision-to-assess", data=decision)
        assert done.status_code == 303, done.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert [e["kind"] for e in view["events"]].count("decision_to_assess") == 1
    after = await browser.get(done.headers["location"])
    assert "Decision recorded" in after.text
    assert "Record an advice request" in after.text


async def test_a_refused_step_shows_the_error_summary_with_the_laws_reason(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    today = await s.today()
    ref = (await create_case(s, today - weeks(2)))["case_ref"]
    page = await browser.get(f"/cases/{ref}")
    bad_date = {
        "csrf_token": form_token(page.text),
        "decision": "assess",
        "decided_on-day": "31",
        "decided_on-month": "2",
        "decided_on-year": "2024",
    }
    r = await browser.post(f"/cases/{ref}/steps/decision-to-assess", data=bad_date)
    assert r.status_code == 422
    assert "There is a problem" in r.text
    assert 'href="#decision-to-assess-decided_on-day"' in r.text
    assert "Date of the decision must be a real date" in r.text
    new = await browser.get("/cases/new")
    bad_ref = await browser.post(
        "/cases/new",
        data={
            "csrf_token": form_token(new.text),
            "case_ref": "has spaces",
            "requested_by": "parent",
            "child.given_name": "Robin",
            "child.family_name": "Pageson",
            **date_fields("received_on", today),
            **date_fields("child.date_of_birth", date(2016, 5, 1)),
        },
    )
    assert bad_ref.status_code == 422
    assert "Case reference must use only letters, numbers, hyphens and underscores" in bad_ref.text
    assert 'value="has spaces"' in bad_ref.text  # what was typed is kept
    refused = {
        "csrf_token": form_token(page.text),
        "limit": "decision_to_assess",
        "kind": "coronavirus",
        "reason": "Refused on purpose",
        **date_fields("starts_on", today - weeks(1)),
        **date_fields("ends_on", today),
    }
    r = await browser.post(f"/cases/{ref}/steps/exception", data=refused)
    assert r.status_code in (409, 422), r.text
    assert "There is a problem" in r.text
    assert 'href="#exception-kind"' in r.text
    assert "Refused on purpose" in r.text  # what was typed is kept


async def test_a_school_closure_exception_with_its_institution_is_recorded_from_the_page(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(22)  # the final plan was due 2 weeks ago
    ref = (await create_case(s, day0))["case_ref"]
    decided = {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decided)).status_code == 200
    page = await browser.get(f"/cases/{ref}")
    form = {
        "csrf_token": form_token(page.text),
        "idempotency_key": uuid.uuid4().hex,  # as the rendered form carries
        "limit": "final_plan",
        "kind": "school_closure",
        "reason": "summer holiday",
        "institution.name": "Oak Primary",
        **date_fields("institution.closed_on", day0 + weeks(6)),
        **date_fields("institution.reopens_on", day0 + weeks(12)),
    }
    incomplete = await browser.post(f"/cases/{ref}/steps/exception", data=form)
    assert incomplete.status_code == 422
    assert 'href="#exception-institution.advice_requested_on-day"' in incomplete.text
    form.update(date_fields("institution.advice_requested_on", day0 + weeks(6)))
    done = await browser.post(f"/cases/{ref}/steps/exception", data=form)
    assert done.status_code == 303, done.text
    view = (await s.get(f"/assessments/{ref}")).json()
    final = next(lim for lim in view["limits"] if lim["limit"] == "final_plan")
    assert final["status"] == "exception"
    shown = await browser.get(done.headers["location"])
    assert "Reason: summer holiday" in shown.text
    assert "Institution: Oak Primary" in shown.text


async def test_a_manager_reads_case_pages_but_gets_no_forms(ts_stack: Stack) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(2)))["case_ref"]
    http = httpx.AsyncClient(transport=s.http._transport, base_url="http://api")
    await sign_in(http, await make_staff(s, role="manager"))
    page = await http.get(f"/cases/{ref}")
    assert page.status_code == 200
    assert "Record the decision whether to assess" not in page.text
    assert (await http.get("/cases/new")).status_code == 403
    refused = await http.post(
        f"/cases/{ref}/steps/decision-to-assess", data={"csrf_token": form_token(page.text)}
    )
    assert refused.status_code == 403


async def test_the_session_cookie_is_secure_in_production(ts_stack: Stack) -> None:
    from api.app import create_app
    from ehc.settings import Settings

    app = create_app(
        Settings(environment="production", temporal_task_queue=ts_stack.task_queue),
        temporal=ts_stack.env.client,
        sessions=ts_stack.sessions,
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://api")
    signed = await sign_in(http, await make_staff(ts_stack))
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert f"{COOKIE}=" in cookie
    assert "secure" in cookie
    assert "httponly" in cookie


def test_the_access_log_keeps_no_query_string_so_no_searched_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from ehc.logging import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(fmt="json", level="INFO")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/cases?q=Jordan+Late", "1.1", 200
        )
        err = capsys.readouterr().err
    finally:
        root.handlers[:], root.level = handlers, level
    assert "/cases" in err
    assert "Jordan" not in err


# --- correcting a date, reopening, the child's details (issue 11) ----------------------


async def page_once(
    http: httpx.AsyncClient, path: str, *, shows: str, seconds: float = 10.0
) -> httpx.Response:
    """The page once it shows ``shows`` (the store's projection lands just after a reply)."""
    found: list[httpx.Response] = []

    async def shown() -> bool:
        found[:] = [await http.get(path)]
        return shows in found[0].text

    await eventually(shown, seconds=seconds, what=f"{path} to show {shows!r}")
    return found[0]


def entry_value(html: str, kind_words: str, field_label: str) -> str:
    """The value of the correction form's option for ``kind_words``' ``field_label``."""
    for value, label in re.findall(r'<option value="([0-9]+:[a-z_]+)"[^>]*>([^<]+)</option>', html):
        if label.startswith(kind_words) and label.endswith(field_label):
            return str(value)
    raise AssertionError(f"no entry {kind_words} ... {field_label} to correct")


async def test_a_caseworker_corrects_a_decision_date_and_sees_the_limit_and_trail_change(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(10)
    ref = (await create_case(s, day0))["case_ref"]
    late = {"decision": "assess", "decided_on": (day0 + weeks(7)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", late)).status_code == 200
    page = await page_once(browser, f"/cases/{ref}", shows="Correct a date entered wrongly")
    form = {
        "csrf_token": form_token(page.text),
        "idempotency_key": uuid.uuid4().hex,
        "entry": entry_value(page.text, "Decision to assess", "date of the decision"),
        **date_fields("on", day0 + weeks(5)),
        "reason": "Typed the panel's date, not the letter's",
    }
    for _ in range(2):  # a double submit records once
        done = await browser.post(f"/cases/{ref}/steps/correction", data=form)
        assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/cases/{ref}?done=correction"
    view = (await s.get(f"/assessments/{ref}")).json()
    assert [e["kind"] for e in view["events"]].count("corrected") == 1
    decision = next(lim for lim in view["limits"] if lim["limit"] == "decision_to_assess")
    assert decision["status"] == "met"
    shown = await page_once(browser, done.headers["location"], shows="Amended below")
    assert "Date corrected" in shown.text
    trail = shown.text[shown.text.index('id="trail"') :]
    # the correction and its reason sit just after the entry they amend
    original = trail.index("Decision to assess")
    correction = trail.index("Correction</strong> of the entry above")
    assert original < correction
    assert trail.index("Amended below") < correction
    assert "Reason: Typed the panel&#39;s date, not the letter&#39;s" in trail[correction:]
    assert f"{(day0 + weeks(5)).day} " in trail[correction:]
    limits = shown.text[shown.text.index('id="limits"') : shown.text.index('id="next-step"')]
    assert "Breached" not in limits


async def test_a_correction_the_law_refuses_shows_the_reason_at_the_date(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(10)
    ref = (await create_case(s, day0))["case_ref"]
    decided = {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decided)).status_code == 200
    page = await page_once(browser, f"/cases/{ref}", shows="date of the decision")
    form = {
        "csrf_token": form_token(page.text),
        "idempotency_key": uuid.uuid4().hex,
        "entry": entry_value(page.text, "Decision to assess", "date of the decision"),
        **date_fields("on", day0 - weeks(1)),  # before the request was received
        "reason": "Wrong on purpose",
    }
    refused = await browser.post(f"/cases/{ref}/steps/correction", data=form)
    assert refused.status_code in (409, 422), refused.text
    assert "There is a problem" in refused.text
    assert 'href="#correction-on-day"' in refused.text
    assert "Wrong on purpose" in refused.text  # what was typed is kept
    no_reason = {**form, **date_fields("on", day0 + weeks(4)), "reason": ""}
    r = await browser.post(f"/cases/{ref}/steps/correction", data=no_reason)
    assert r.status_code == 422
    assert 'href="#correction-reason"' in r.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert "corrected" not in [e["kind"] for e in view["events"]]


async def test_correction_reopen_and_child_forms_refuse_a_post_without_the_session_token(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(3)))["case_ref"]
    for path in ("steps/correction", "steps/reopen", "child"):
        r = await browser.post(f"/cases/{ref}/{path}", data={"reason": "forged", "on-day": "1"})
        assert r.status_code == 400, path
        assert "This form has expired" in r.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert [e["kind"] for e in view["events"]] == ["request_received"]


async def test_a_mistaken_withdrawal_is_reopened_from_the_page_once(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    today = await s.today()
    ref = (await create_case(s, today - weeks(4)))["case_ref"]
    open_page = await page_once(browser, f"/cases/{ref}", shows="Record the decision")
    assert "Reopen the case" not in open_page.text  # nothing to undo on an open case
    body = {"withdrawn_on": today.isoformat(), "reason": "Wrong case"}
    assert (await s.post(f"/assessments/{ref}/withdrawal", body)).status_code == 200
    closed = await page_once(browser, f"/cases/{ref}", shows="Reopen the case")
    assert "This case is closed" in closed.text
    assert "Record the decision whether to assess" not in closed.text
    empty = {"csrf_token": form_token(closed.text), "idempotency_key": uuid.uuid4().hex}
    r = await browser.post(f"/cases/{ref}/steps/reopen", data=empty)
    assert r.status_code == 422
    assert 'href="#reopen-reason"' in r.text
    form = {**empty, "reason": "Withdrawn on the wrong case"}
    for _ in range(2):  # a double submit records once
        done = await browser.post(f"/cases/{ref}/steps/reopen", data=form)
        assert done.status_code == 303, done.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["stage"] == "awaiting_decision_to_assess"
    assert [e["kind"] for e in view["events"]].count("reopened") == 1
    after = await page_once(browser, done.headers["location"], shows="Reopened</strong>")
    assert "Case reopened" in after.text
    assert "Reason: Withdrawn on the wrong case" in after.text
    assert "Record the decision whether to assess" in after.text


async def test_a_caseworker_changes_the_childs_details_on_a_prefilled_form(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(3)))["case_ref"]
    case = await page_once(browser, f"/cases/{ref}", shows="Change the child")
    assert f'href="/cases/{ref}/child"' in case.text
    form_page = await browser.get(f"/cases/{ref}/child")
    assert form_page.status_code == 200
    assert 'value="Amelia"' in form_page.text  # pre-filled from the store
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form_page.text)
    assert key
    values = dict(
        re.findall(
            r'<input class="govuk-input[^"]*" id="[^"]+" name="([^"]+)" type="text"'
            r'(?: spellcheck="false")? value="([^"]*)"',
            form_page.text,
        )
    )
    assert values.get("given_name") == "Amelia"
    form = {
        **values,
        "csrf_token": form_token(form_page.text),
        "idempotency_key": key.group(1),
        "given_name": "Amélie",
        "postcode": "AB1 2CD",
    }
    for _ in range(2):  # a double submit records once
        done = await browser.post(f"/cases/{ref}/child", data=form)
        assert done.status_code == 303, done.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["child"]["given_name"] == "Amélie"
    assert view["child"]["postcode"] == "AB1 2CD"
    changed = [e for e in view["events"] if e["kind"] == "child_details_changed"]
    assert len(changed) == 1
    assert "Amélie" not in str(changed)  # the trail names the fields, never the values
    shown = await page_once(browser, done.headers["location"], shows="Amélie")
    assert "The child&#39;s details are saved" in shown.text


async def test_a_child_detail_the_model_refuses_is_shown_at_its_field(
    ts_stack: Stack, browser: httpx.AsyncClient
) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(3)))["case_ref"]
    form_page = await browser.get(f"/cases/{ref}/child")
    form = {
        "csrf_token": form_token(form_page.text),
        "idempotency_key": uuid.uuid4().hex,
        "given_name": "Ame\u200blia",  # a zero-width space
        "family_name": "",
        "date_of_birth-day": "30",
        "date_of_birth-month": "2",
        "date_of_birth-year": "2016",
    }
    r = await browser.post(f"/cases/{ref}/child", data=form)
    assert r.status_code == 422
    assert "There is a problem" in r.text
    assert 'href="#family_name"' in r.text
    assert 'href="#date_of_birth-day"' in r.text
    form.update({"family_name": "Testcase", **date_fields("date_of_birth", date(2016, 2, 1))})
    r = await browser.post(f"/cases/{ref}/child", data=form)
    assert r.status_code == 422
    assert 'href="#given_name"' in r.text
    assert "invisible or control character" in r.text
    view = (await s.get(f"/assessments/{ref}")).json()
    assert view["child"]["given_name"] == "Amelia"


def test_every_step_form_has_exactly_one_recorder() -> None:
    from api.pages import cases, forms

    assert set(cases.RECORDERS) == set(forms.STEPS)


def test_reopen_is_offered_only_on_a_mistaken_closing_inside_its_grace_period() -> None:
    from types import SimpleNamespace
    from typing import cast

    from api.pages import forms
    from ehc.models import CaseView, Stage

    def offered(stage: Stage, in_grace: bool) -> list[str]:
        view = cast(CaseView, SimpleNamespace(stage=stage, advice_requests=[]))
        return [s.slug for s in forms.next_steps(view, in_grace=in_grace)]

    assert offered(Stage.WITHDRAWN, True) == ["reopen", "correction"]
    assert offered(Stage.CLOSED_NOT_ASSESSED, True) == ["reopen", "correction"]
    assert offered(Stage.WITHDRAWN, False) == ["correction"]
    assert offered(Stage.PLAN_ISSUED, True) == ["correction"]
    assert "reopen" not in offered(Stage.GATHERING_ADVICE, True)


async def test_a_store_outage_shows_a_browser_the_service_error_page(
    ts_stack: Stack, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case store not answering: a caseworker's browser gets the service's error page
    (503, Retry-After, a way back), and an API client still gets JSON."""

    async def store_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT", {}, TimeoutError("timed out"))

    monkeypatch.setattr(accounts, "session_user", store_down)
    monkeypatch.setattr(repository, "user_by_token", store_down)
    page = await browser.get("/cases", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "Retry-After" in page.headers
    assert "Sorry, there is a problem with the service" in page.text
    assert "try again in a few seconds" in page.text
    assert 'href="/cases"' in page.text
    api = await ts_stack.get("/assessments")
    assert (api.status_code, api.json()["error"]) == (503, "unavailable")
