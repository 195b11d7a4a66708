"""The store's repository functions, on SQLite and PostgreSQL (see conftest.backend)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.models import ChildDetails, ClosureDates, ExceptionView, Stage
from ehc.statutory import ExceptionKind, Limit, LimitStatus
from ehc.store import repository
from ehc.store.db import read_outside_a_transaction
from ehc.store.tables import CaseRow, EventRow, ExceptionRow, LimitRow, UserRow, metadata
from tests.ehc.store.conftest import (
    ENTERED_AT,
    TODAY,
    advice_view,
    case_view,
    event_view,
    limit_view,
)

Sessions = async_sessionmaker[AsyncSession]


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


async def project(db: Sessions, *views: Any) -> None:
    for view in views:
        async with db() as session, session.begin():
            await repository.project_case(session, view)


async def snapshot(db: Sessions) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    out = {}
    async with db() as session:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            rows = await session.execute(table.select().order_by(*pk))
            out[table.name] = [tuple(r) for r in rows]
    return out


# --- children --------------------------------------------------------------------------------


async def test_save_child_created_same_conflict(db: Sessions) -> None:
    child = ChildDetails.model_validate(
        {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "date_of_birth": "2015-12-10",
            "setting_urn": "123456",
        }
    )
    other = ChildDetails(given_name="Bo", family_name="Peep", date_of_birth=date(2016, 1, 1))
    async with db() as session:
        assert await repository.get_child(session, case_ref="C1") is None
        assert (
            await repository.save_child(session, case_ref="C1", child=child, fingerprint="f1")
            == "created"
        )
        await session.commit()
        assert (
            await repository.save_child(session, case_ref="C1", child=child, fingerprint="f1")
            == "same"
        )
        assert (
            await repository.save_child(session, case_ref="C1", child=other, fingerprint="f2")
            == "conflict"
        )
        await session.commit()
    async with db() as session:
        stored = await repository.get_child(session, case_ref="C1")
    assert stored == child
    assert stored is not None
    assert stored.model_extra == {"setting_urn": "123456"}


async def test_child_may_exist_before_its_case(db: Sessions) -> None:
    child = ChildDetails(given_name="Ada", family_name="L", date_of_birth=date(2015, 1, 1))
    async with db() as session, session.begin():
        await repository.save_child(session, case_ref="EARLY", child=child, fingerprint="x")
    await project(db, case_view("EARLY"))
    async with db() as session:
        assert await repository.get_child(session, case_ref="EARLY") == child


# --- project_case ------------------------------------------------------------------------------


def full_view(case_ref: str = "C1", *, events: int = 3) -> Any:
    exc = ExceptionView(
        id="E1",
        limit=Limit.FINAL_PLAN,
        kind=ExceptionKind.SCHOOL_CLOSURE,
        closure=ClosureDates(
            closed_on=days(-20), reopens_on=days(-5), advice_requested_on=days(-30)
        ),
        entered_by="7",
        entered_at=ENTERED_AT,
    )
    return case_view(
        case_ref,
        limits=[
            limit_view(
                Limit.DECISION_TO_ASSESS, due_on=days(-20), status=LimitStatus.MET, met_on=days(-25)
            ),
            limit_view(
                Limit.ADVICE,
                due_on=days(10),
                advice_id="A1",
                blocked_by="health advice not received",
            ),
            limit_view(
                Limit.ADVICE,
                due_on=days(12),
                advice_id="A2",
                status=LimitStatus.MET,
                met_on=days(-1),
            ),
            limit_view(Limit.FINAL_PLAN, due_on=days(60), exceptions=["E1"]),
        ],
        advice=[advice_view("A1"), advice_view("A2", status=LimitStatus.MET, team=None)],
        exceptions=[exc],
        events=events,
    )


async def test_project_case_is_idempotent(db: Sessions) -> None:
    view = full_view()
    await project(db, view)
    first = await snapshot(db)
    await project(db, view)
    assert await snapshot(db) == first  # updated_at included: nothing changed
    assert len(first["limits"]) == 4
    assert len(first["events"]) == 3
    async with db() as session:
        keys = (
            await session.scalars(select(LimitRow.limit_key).order_by(LimitRow.limit_key))
        ).all()
        exc = await session.get(ExceptionRow, "E1")
    assert keys == ["advice:A1", "advice:A2", "decision_to_assess", "final_plan"]
    assert exc is not None
    assert exc.closure == {
        "closed_on": days(-20).isoformat(),
        "reopens_on": days(-5).isoformat(),
        "advice_requested_on": days(-30).isoformat(),
    }


async def test_project_case_replaces_limits_and_upserts_by_id(db: Sessions) -> None:
    await project(db, full_view())
    async with db() as session:
        before = await session.get(CaseRow, "C1")
    assert before is not None
    newer = full_view(events=4).model_copy(
        update={
            "stage": Stage.AWAITING_DECISION_TO_ISSUE,
            "limits": [limit_view(Limit.FINAL_PLAN, due_on=days(60))],
            "advice_requests": [advice_view("A1", status=LimitStatus.MET)],
        }
    )
    await project(db, newer)
    async with db() as session:
        after = await session.get(CaseRow, "C1")
        limits = (await session.scalars(select(LimitRow.limit_key))).all()
        assert await repository.advice_request_case(session, advice_id="A1") == ("C1", "chc")
        assert await repository.advice_request_case(session, advice_id="A2") == ("C1", None)
        assert await repository.advice_request_case(session, advice_id="nope") is None
        status = await session.scalar(text("SELECT status FROM advice_requests WHERE id = 'A1'"))
    assert after is not None
    assert after.stage == Stage.AWAITING_DECISION_TO_ISSUE.value
    assert after.updated_at >= before.updated_at
    assert limits == ["final_plan"]
    assert status == "met"


async def test_events_are_append_only(db: Sessions) -> None:
    await project(db, full_view(events=5))
    older = full_view(events=2)
    older.events[0] = event_view(1, "rewritten")
    await project(db, older)
    async with db() as session:
        rows = (await session.scalars(select(EventRow).order_by(EventRow.seq))).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].kind == "note"
    assert rows[4].detail == {"seq": "5"}


async def test_concurrent_projections(db: Sessions) -> None:
    """Worker activities project cases concurrently, sometimes the same case twice."""
    views = [full_view(f"K{i}") for i in range(4)]
    await asyncio.gather(*(project(db, v) for v in views), project(db, views[0]))
    async with db() as session:
        assert await repository.list_case_refs(session) == ["K0", "K1", "K2", "K3"]
        events = await session.scalar(select(func.count()).select_from(EventRow))
    assert events == 12


async def test_aware_datetimes_round_trip_as_utc(db: Sessions) -> None:
    plus_two = timezone(timedelta(hours=2))
    at = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=plus_two)
    await project(db, case_view("TZ", events=[event_view(1, entered_at=at)]))
    async with db() as session:
        row = await session.get(EventRow, ("TZ", 1))
        case = await session.get(CaseRow, "TZ")
    assert row is not None
    assert case is not None
    assert row.entered_at.tzinfo is UTC
    assert row.entered_at == at + timedelta(minutes=1)
    assert row.entered_at.hour == 10
    assert case.updated_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(db: Sessions) -> None:
    async with db() as session:
        session.add(
            UserRow(
                name="n", role="admin", team=None, token_hash="h", created_at=datetime(2025, 1, 1)
            )
        )
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


# --- notes, users, case refs -------------------------------------------------------------------


async def test_notes_are_idempotent_by_key(db: Sessions) -> None:
    async with db() as session, session.begin():
        await repository.save_note(session, key="exc:E1", case_ref="C1", text="flooded")
        await repository.save_note(session, key="exc:E1", case_ref="C1", text="flooded")
        await repository.save_note(session, key="exc:E1", case_ref="C1", text="other")
    async with db() as session:
        assert await repository.get_note(session, case_ref="C1", key="exc:E1") == "flooded"
        assert await repository.get_note(session, case_ref="C1", key="missing") is None


async def test_the_same_note_key_on_two_cases_keeps_each_cases_own_reason(db: Sessions) -> None:
    async with db() as session, session.begin():
        await repository.save_note(session, key="withdrawal:k1", case_ref="C1", text="moved")
        await repository.save_note(session, key="withdrawal:k1", case_ref="C2", text="other LA")
    async with db() as session:
        assert await repository.get_note(session, case_ref="C1", key="withdrawal:k1") == "moved"
        assert await repository.get_note(session, case_ref="C2", key="withdrawal:k1") == "other LA"
        assert await repository.case_notes(session, case_ref="C2") == {"withdrawal:k1": "other LA"}


async def test_users_and_tokens(db: Sessions) -> None:
    async with db() as session:
        user, token = await repository.create_user(session, name="Sam", role="team", team="chc")
        other, other_token = await repository.create_user(session, name="Kim", role="manager")
    assert (user.name, user.role, user.team) == ("Sam", "team", "chc")
    assert other.id != user.id
    assert other_token != token
    assert len(token) >= 40
    async with db() as session:
        assert await repository.user_by_token(session, token=token) == user
        assert await repository.user_by_token(session, token=other_token) == other
        assert await repository.user_by_token(session, token=token + "x") is None
        assert await repository.user_by_token(session, token="") is None
        stored = (await session.execute(select(UserRow.__table__))).all()
        count = await session.scalar(select(func.count()).select_from(UserRow))
    assert count == 2
    assert all(token not in str(v) for row in stored for v in row)
    assert hashlib.sha256(token.encode()).hexdigest() in {r.token_hash for r in stored}
    async with db() as session:
        with pytest.raises(ValueError, match="role"):
            await repository.create_user(session, name="X", role="superuser")


async def test_list_case_refs(db: Sessions) -> None:
    await project(db, case_view("Z-2"), case_view("A-1"), case_view("M_3"))
    async with db() as session:
        assert await repository.list_case_refs(session) == ["A-1", "M_3", "Z-2"]


# --- opening a case in one go (issue 14) -------------------------------------------------------


async def _rows_of(db: Sessions, case_ref: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about ``case_ref`` (its reference blanked), table by table."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with db() as session:
        for table in metadata.sorted_tables:
            if "case_ref" not in table.c:
                continue
            rows = await session.execute(
                table.select()
                .where(table.c.case_ref == case_ref)
                .order_by(*table.primary_key.columns)
            )
            out[table.name] = [
                {k: ("REF" if v == case_ref else v) for k, v in r._mapping.items()} for r in rows
            ]
    return out


async def test_open_new_case_writes_what_the_steps_write_and_refuses_taken_refs(
    db: Sessions,
) -> None:
    """The start's writes store exactly what the steps (save_child, then
    record_opened_case) store, and refuse a reference taken in other letter case or by
    another child without writing anything."""
    child = ChildDetails.model_validate(
        {"given_name": "Ada", "family_name": "L", "date_of_birth": "2015-12-10", "setting_urn": "1"}
    )
    at = datetime(2024, 5, 1, 9, tzinfo=UTC)
    start = {"case_ref": "ONE1", "received_on": "2024-05-01"}
    async with db() as session:
        outcome = await repository.open_new_case(
            session, child=child, fingerprint="f", view=full_view("ONE1"), start=start, at=at
        )
        await session.commit()
    assert outcome == "created"
    async with db() as session:
        await repository.save_child(session, case_ref="STEP1", child=child, fingerprint="f")
        await repository.record_opened_case(session, view=full_view("STEP1"), start=start, at=at)
        await session.commit()
    # A view whose rows leave a column empty throughout (no limit met yet), as at a start.
    fresh = case_view("ONE2", limits=[limit_view(Limit.DECISION_TO_ASSESS, due_on=days(20))])
    async with db() as session:
        assert (
            await repository.open_new_case(
                session, child=child, fingerprint="f", view=fresh, start=start, at=at
            )
            == "created"
        )
        await session.commit()
    assert (await _rows_of(db, "ONE2"))["limits"][0]["met_on"] is None
    one_go, in_steps = await _rows_of(db, "ONE1"), await _rows_of(db, "STEP1")
    for table in ("children", "cases", "limits", "events", "pending_starts"):
        assert one_go[table], table
    assert {t: r for t, r in one_go.items() if t != "pending_starts"} == {
        t: r for t, r in in_steps.items() if t != "pending_starts"
    }
    assert one_go["pending_starts"][0]["start"] == start

    before = await snapshot(db)
    other = ChildDetails(given_name="Bo", family_name="P", date_of_birth=date(2016, 1, 1))
    for ref, kid, fingerprint, expected in [
        ("ONE1", child, "f", "same"),
        ("ONE1", other, "g", "conflict"),
        ("one1", child, "f", "variant"),
    ]:
        async with db() as session:
            outcome = await repository.open_new_case(
                session, child=kid, fingerprint=fingerprint, view=full_view(ref), start={}, at=at
            )
            await session.commit()
        assert outcome == expected, ref
    assert await snapshot(db) == before


async def test_a_token_read_outside_a_transaction_leaves_the_request_s_writes_transactional(
    db: Sessions,
) -> None:
    """The identity lookup runs in autocommit on PostgreSQL (no BEGIN and ROLLBACK round
    trips on every request); what the same request writes next is still one transaction
    that a rollback undoes, on both stores."""
    async with db() as session:
        user, token = await repository.create_user(session, name="Casey", role="caseworker")
    async with db() as session:
        await read_outside_a_transaction(session)
        assert await repository.user_by_token(session, token=token) == user
        await session.rollback()  # as current_user does before the route's own work
        child = ChildDetails(given_name="Ada", family_name="Never", date_of_birth=date(2016, 1, 1))
        assert (
            await repository.save_child(session, case_ref="T-1", child=child, fingerprint="f")
            == "created"
        )
        await session.rollback()
    async with db() as session:
        assert await repository.get_child(session, case_ref="T-1") is None
