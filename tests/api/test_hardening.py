"""Nothing lost, nothing hung, nothing leaked: the API under hostile and mistaken input.

Each test is named after a finding of the security and reliability probe (issue 16) and
shows it fixed.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.deps import FailedSignIns
from api.guards import json_depth
from ehc.settings import Settings
from ehc.store import repository, tables
from ehc.store.db import make_engine
from tests.api.scenarios import create_case, new_case_body, weeks
from tests.conftest import Stack, unique_ref

ADVICE_TEMPLATE_OK = {
    "professional": "Dr A Example, community paediatrician",
    "service": "Community paediatrics",
}


async def _withdraw(s: Stack, ref: str, reason: str, key: str) -> httpx.Response:
    day0 = await s.today() - weeks(3)
    return await s.post(
        f"/assessments/{ref}/withdrawal",
        {"withdrawn_on": (day0 + weeks(2)).isoformat(), "reason": reason},
        **{"Idempotency-Key": key},
    )


# --- nothing lost: reasons and keys are per case and command ---------------------------


async def test_one_idempotency_key_on_two_cases_keeps_each_cases_own_reason(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    first = (await create_case(s, day0))["case_ref"]
    second = (await create_case(s, day0))["case_ref"]
    assert (await _withdraw(s, first, "Family moved to Leeds", "retry-1")).status_code == 200
    assert (await _withdraw(s, second, "Now home educated", "retry-1")).status_code == 200
    async with s.sessions() as session:
        assert list((await repository.case_notes(session, case_ref=first)).values()) == [
            "Family moved to Leeds"
        ]
        assert list((await repository.case_notes(session, case_ref=second)).values()) == [
            "Now home educated"
        ]


async def test_the_same_exception_body_on_two_cases_keeps_the_reason_on_both(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    refs = [(await create_case(s, day0))["case_ref"] for _ in range(2)]
    body = {
        "limit": "decision_to_assess",
        "kind": "institution_closure",
        "reason": "School closed for four weeks after a flood",
        "institution": {
            "name": "Example Primary",
            "closed_on": (day0 + weeks(1)).isoformat(),
            "reopens_on": (day0 + weeks(5)).isoformat(),
            "advice_requested_on": (day0 + weeks(1)).isoformat(),
        },
    }
    answers = [await s.post(f"/assessments/{ref}/exceptions", body) for ref in refs]
    statuses = {r.status_code for r in answers}
    async with s.sessions() as session:
        for ref, answer in zip(refs, answers, strict=True):
            notes = await repository.case_notes(session, case_ref=ref)
            if answer.status_code == 201:
                assert list(notes.values()) == [
                    "School closed for four weeks after a flood\nInstitution: Example Primary"
                ]
            else:
                assert notes == {}, "a refused exception leaves no reason behind"
    assert statuses == {201} or statuses == {422}, [r.text for r in answers]


async def test_an_idempotency_key_reused_with_a_different_body_is_refused(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    path = f"/assessments/{ref}/decision-to-assess"
    first = {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()}
    other = {"decision": "assess", "decided_on": (day0 + weeks(2)).isoformat()}
    key = {"Idempotency-Key": "decision-1"}
    assert (await s.post(path, first, **key)).status_code == 200
    reused = await s.post(path, other, **key)
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert "nothing was recorded" in reused.json()["detail"]
    again = await s.post(path, first, **key)  # a true retry still answers as before
    assert again.status_code == 200
    decided = [e for e in again.json()["events"] if e["kind"] == "decision_to_assess"]
    assert [e["occurred_on"] for e in decided] == [first["decided_on"]]


async def test_ten_parallel_requests_with_one_key_and_ten_bodies_record_one(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    decision = {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()}
    assert (await s.post(f"/assessments/{ref}/decision-to-assess", decision)).status_code == 200
    bodies = [
        {"agency": "health", "requested_on": (day0 + weeks(1) + timedelta(days=i)).isoformat()}
        for i in range(10)
    ]
    answers = await asyncio.gather(
        *(
            s.post(f"/assessments/{ref}/advice-requests", b, **{"Idempotency-Key": "k-10"})
            for b in bodies
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [422] * 9, [r.text for r in answers]
    view = (await s.get(f"/assessments/{ref}")).json()
    assert len(view["advice_requests"]) == 1
    accepted = next(r for r in answers if r.status_code == 201).json()
    assert view["advice_requests"][0]["requested_on"] == accepted["requested_on"]


async def test_a_refused_request_frees_its_key_for_a_corrected_body(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(3)
    ref = (await create_case(s, day0))["case_ref"]
    path = f"/assessments/{ref}/decision-to-assess"
    key = {"Idempotency-Key": "fix-me"}
    before_day0 = {"decision": "assess", "decided_on": (day0 - timedelta(days=3)).isoformat()}
    assert (await s.post(path, before_day0, **key)).status_code == 422
    corrected = {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()}
    assert (await s.post(path, corrected, **key)).status_code == 200


# --- input limits --------------------------------------------------------------------


async def test_a_body_over_one_megabyte_is_refused_with_413_and_nothing_stored(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    body = new_case_body(await s.today() - weeks(1))
    body["child"]["postcode"] = "x" * 10_000_000
    r = await s.post("/assessments", body)
    assert r.status_code == 413
    assert r.json()["error"] == "body_too_large"
    assert "1 MB" in r.json()["detail"]
    async with s.sessions() as session:
        assert await repository.get_child(session, case_ref=body["case_ref"]) is None


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(ts_stack: Stack) -> None:
    s = ts_stack

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"case_ref": "T-1", "child": {"given_name": "'
        for _ in range(300):
            yield b"a" * 10_000
        yield b'"}}'

    r = await s.http.post(
        "/assessments",
        content=chunks(),
        headers={**s.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


async def test_json_nested_500_deep_is_refused_and_no_submission_is_stored(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    await s.post(
        f"/assessments/{ref}/decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(1)).isoformat()},
    )
    advice = await s.post(
        f"/assessments/{ref}/advice-requests",
        {
            "agency": "health",
            "requested_on": (day0 + weeks(1)).isoformat(),
            "team": "community-paediatrics",
        },
    )
    advice_id = advice.json()["id"]
    nested: Any = "deep"
    for _ in range(500):
        nested = {"x": nested}
    r = await s.post(
        f"/advice-requests/{advice_id}/submission",
        {"submitted_on": (day0 + weeks(2)).isoformat(), "sections": nested},
        role="team",
    )
    assert r.status_code == 422
    assert r.json()["error"] == "too_deeply_nested"
    async with s.sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(tables.SubmissionRow)
            .where(tables.SubmissionRow.advice_id == advice_id)
        )
    assert stored == 0


def test_nesting_is_measured_without_counting_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 3) == 1
    assert json_depth(b'{"a": [[[["x"]]]]}', 3) == 4
    assert json_depth(b'{"a": "\\"[[[[[[", "b": [[]]}', 2) == 3


async def test_the_child_accepts_only_its_documented_fields(ts_stack: Stack) -> None:
    s = ts_stack
    body = new_case_body(await s.today() - weeks(1))
    body["child"]["favourite_colour"] = "blue"
    r = await s.post("/assessments", body)
    assert r.status_code == 422
    assert "favourite_colour" in r.json()["detail"]
    assert "it accepts given_name" in r.json()["detail"]


@pytest.mark.parametrize(
    ("child", "words"),
    [
        ({"date_of_birth": "0001-01-01"}, "between 1985-01-01 and 2099-12-31"),
        ({"date_of_birth": "9999-12-31"}, "between 1985-01-01 and 2099-12-31"),
        ({"date_of_birth": "2016-05-01T00:00:00"}, "YYYY-MM-DD"),
        ({"date_of_birth": 1462060800}, "YYYY-MM-DD"),
        ({"given_name": "   "}, "not only spaces"),
        ({"given_name": "\u200b"}, "invisible or control character"),
        ({"family_name": "Smith\x00"}, "invisible or control character"),
        ({"family_name": "\x1b[31mRed"}, "invisible or control character"),
        ({"postcode": "NE29\u200b6AB"}, "invisible or control character"),
        ({"postcode": "x" * 101}, "at most 100 characters"),
    ],
)
async def test_implausible_child_details_are_refused_with_what_is_allowed(
    ts_stack: Stack, child: dict[str, Any], words: str
) -> None:
    s = ts_stack
    body = new_case_body(await s.today() - weeks(1))
    body["child"].update(child)
    r = await s.post("/assessments", body)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    assert r.json()["detail"].endswith(".")


async def test_a_child_born_after_the_request_or_over_25_is_refused(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(1)
    for born in (day0 + timedelta(days=1), day0 - timedelta(days=27 * 365)):
        body = new_case_body(day0)
        body["child"]["date_of_birth"] = born.isoformat()
        r = await s.post("/assessments", body)
        assert r.status_code == 422
        assert "up to 25" in r.json()["detail"]


@pytest.mark.parametrize(
    "case_ref", ["SAM-SMITH-1", "EHC-2016-05-01", "EHC-01-05-2016", "EHC20160501", "ab 1"]
)
async def test_case_refs_that_could_carry_a_name_or_date_of_birth_are_refused(
    ts_stack: Stack, case_ref: str
) -> None:
    s = ts_stack
    r = await s.post("/assessments", new_case_body(await s.today() - weeks(1), case_ref))
    assert r.status_code == 422
    assert "case_ref" in r.json()["detail"]


async def test_case_refs_differing_only_by_letter_case_are_one_reference(ts_stack: Stack) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(1)
    ref = unique_ref("EHC")
    first = await s.post("/assessments", new_case_body(day0, ref))
    assert first.status_code == 201
    other_child = new_case_body(day0, ref.lower())
    other_child["child"]["given_name"] = "Bea"
    r = await s.post("/assessments", other_child)
    assert r.status_code == 409
    assert r.json()["error"] == "case_ref_taken"
    found = await s.get(f"/assessments/{ref.lower()}")
    assert found.status_code == 200, found.text
    assert found.json()["case_ref"] == ref
    decided = await s.post(
        f"/assessments/{ref.lower()}/decision-to-assess",
        {"decision": "assess", "decided_on": day0.isoformat()},
    )
    assert decided.status_code == 200, decided.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("ends_on", "9999-12-31"), ("starts_on", "2024-09-02T10:00:00"), ("starts_on", 1725235200)],
)
async def test_exception_dates_must_be_real_and_plausible(
    ts_stack: Stack, field: str, value: Any
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(8)
    ref = (await create_case(s, day0))["case_ref"]
    body = {
        "limit": "decision_to_assess",
        "kind": "institution_closure",
        "reason": "flood",
        "starts_on": (day0 + weeks(1)).isoformat(),
        "ends_on": (day0 + weeks(2)).isoformat(),
        field: value,
    }
    r = await s.post(f"/assessments/{ref}/exceptions", body)
    assert r.status_code == 422
    assert field in r.json()["detail"]
    assert "2099-12-31" in r.json()["detail"] or "YYYY-MM-DD" in r.json()["detail"]


async def test_timescales_for_the_year_9999_is_refused_not_a_500(ts_stack: Stack) -> None:
    r = await ts_stack.http.get("/timescales", params={"received_on": "9999-12-31"})
    assert r.status_code == 422
    assert "2100" in r.json()["detail"]


# --- errors that read as sentences ---------------------------------------------------


async def test_a_body_that_is_not_json_gets_415(ts_stack: Stack) -> None:
    s = ts_stack
    r = await s.http.post(
        "/assessments",
        content=b"case_ref=EHC-1",
        headers={**s.headers(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert r.json() == {
        "error": "unsupported_media_type",
        "detail": "Send the request body as JSON with the header 'Content-Type: application/json'.",
    }


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "needs a JSON body"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be one JSON object"),
        (b"{}", "'case_ref' is required."),
    ],
)
async def test_parser_errors_read_as_whole_sentences(
    ts_stack: Stack, content: bytes, words: str
) -> None:
    s = ts_stack
    r = await s.http.post(
        "/assessments",
        content=content,
        headers={**s.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert words in detail
    assert detail[0].isupper() or detail[0] == "'"
    assert detail.endswith(".")
    assert not detail.startswith(":")


async def test_405_says_which_methods_the_address_allows(ts_stack: Stack) -> None:
    r = await ts_stack.http.put("/assessments", headers=ts_stack.headers())
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert "GET" in r.json()["detail"]


async def test_401_says_how_to_authenticate(ts_stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = await ts_stack.http.get("/assessments", headers=headers)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"


# --- hygiene -------------------------------------------------------------------------


async def test_every_response_carries_security_headers_and_no_store(ts_stack: Stack) -> None:
    s = ts_stack
    ref = (await create_case(s, await s.today() - weeks(1)))["case_ref"]
    answers = [
        await s.get(f"/assessments/{ref}"),
        await s.http.get("/healthz"),
        await s.get("/assessments/NO-SUCH-1"),
        await s.http.get("/nowhere"),
    ]
    for r in answers:
        assert r.headers["Cache-Control"] == "no-store", r.request.url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "no-referrer"


async def test_docs_and_openapi_are_off_in_production(ts_stack: Stack) -> None:
    settings = Settings(environment="production", temporal_task_queue=ts_stack.task_queue)
    app = create_app(settings, temporal=ts_stack.env.client, sessions=ts_stack.sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(path)).status_code == 404
        assert (await ts_stack.http.get("/openapi.json")).status_code == 200  # dev and test


async def test_failed_sign_ins_are_limited_per_address(ts_stack: Stack) -> None:
    s = ts_stack
    for i in range(10):
        r = await s.http.get("/assessments", headers={"Authorization": f"Bearer guess{i}xx"})
        assert r.status_code == 401
    r = await s.http.get("/assessments", headers={"Authorization": "Bearer guess-again"})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "too_many_failed_sign_ins"


def test_failed_sign_ins_are_limited_per_token_prefix_across_addresses() -> None:
    limiter = FailedSignIns(allowed=3, window_seconds=60)
    for address in range(3):
        limiter.failed([f"addr:10.0.0.{address}", "token:abcdef"], now=100.0)
    assert limiter.wait_seconds(["addr:10.0.0.9", "token:abcdef"], now=101.0) == 59.0
    assert limiter.wait_seconds(["addr:10.0.0.9", "token:zzzzzz"], now=101.0) == 0
    assert limiter.wait_seconds(["addr:10.0.0.9", "token:abcdef"], now=161.0) == 0


async def test_the_store_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "ehc.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    await engine.dispose()
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


async def test_a_retried_submission_is_stored_once(ts_stack: Stack) -> None:
    from tests.api.test_advice_api import WHOLE, _health_request

    s = ts_stack
    _, advice_id, day0 = await _health_request(s, 8)
    body = {"submitted_on": (day0 + weeks(3)).isoformat(), "sections": WHOLE}
    for _ in range(2):
        r = await s.post(f"/advice-requests/{advice_id}/submission", body, role="team")
        assert r.status_code == 200, r.text
    async with s.sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(tables.SubmissionRow)
            .where(tables.SubmissionRow.advice_id == advice_id)
        )
    assert stored == 1


async def test_the_openapi_document_declares_the_real_error_model_and_statuses(
    ts_stack: Stack,
) -> None:
    doc = (await ts_stack.http.get("/openapi.json")).json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    error = {"$ref": "#/components/schemas/ErrorBody"}
    create = doc["paths"]["/assessments"]["post"]["responses"]
    for status in ("200", "201", "400", "401", "403", "404", "409", "413", "415", "422", "503"):
        assert status in create, status
    for status in ("401", "413", "415", "422", "503"):
        assert create[status]["content"]["application/json"]["schema"] == error
    assert "Retry-After" in create["503"]["headers"]
    assert "WWW-Authenticate" in create["401"]["headers"]
    assert set(doc["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}


async def test_a_teams_10_mb_submission_is_refused_and_not_stored(ts_stack: Stack) -> None:
    from tests.api.test_advice_api import WHOLE, _health_request

    s = ts_stack
    _, advice_id, day0 = await _health_request(s, 8)
    body = {
        "submitted_on": (day0 + weeks(3)).isoformat(),
        "sections": {**WHOLE, "service": "x" * 10_000_000},
    }
    r = await s.post(f"/advice-requests/{advice_id}/submission", body, role="team")
    assert r.status_code == 413
    async with s.sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(tables.SubmissionRow)
            .where(tables.SubmissionRow.advice_id == advice_id)
        )
    assert stored == 0
