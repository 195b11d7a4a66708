"""Opening a case writes all its first rows or none, on both stores (on PostgreSQL in one
statement, ``ehc.store.opening_pg``; on SQLite step by step in the caller's transaction)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.models import ChildDetails
from ehc.statutory import Limit
from ehc.store import opening_pg, repository
from ehc.store.tables import (
    Base,
    CaseRow,
    ChildRow,
    EntryLagCountRow,
    EventRow,
    LimitRow,
    PendingStartRow,
)
from tests.ehc.store.conftest import TODAY, case_view, event_view, limit_view

Sessions = async_sessionmaker[AsyncSession]
CHILD = ChildDetails(given_name="Ada", family_name="Whole", date_of_birth=date(2016, 1, 1))
AT = datetime(2025, 3, 3, 9, tzinfo=UTC)


async def _count(db: Sessions, row: type[Base], ref: str | None = None) -> int:
    table = row.__table__
    query = select(func.count()).select_from(table)
    if ref is not None:
        query = query.where(table.c.case_ref == ref)
    async with db() as session:
        return int(await session.scalar(query) or 0)


async def test_a_store_error_part_way_leaves_nothing_of_the_case(db: Sessions) -> None:
    """The child and case rows come before the events: an event the store refuses (here
    one with nobody recorded as entering it) must take the child and case with it."""
    broken = event_view(1, "request_received").model_copy(update={"entered_by": None})
    view = case_view(
        "HALF-1",
        limits=[limit_view(Limit.DECISION_TO_ASSESS, due_on=TODAY)],
        events=[broken],
    )
    async with db() as session:
        with pytest.raises(DBAPIError):
            await repository.open_new_case(
                session, child=CHILD, fingerprint="f", view=view, start={}, at=AT
            )
        await session.rollback()
    for row in (ChildRow, CaseRow, LimitRow, EventRow, PendingStartRow):
        assert await _count(db, row, "HALF-1") == 0, row.__tablename__
    assert await _count(db, EntryLagCountRow) == 0
    whole = view.model_copy(update={"events": [event_view(1, "request_received")]})
    async with db() as session:
        outcome = await repository.open_new_case(
            session, child=CHILD, fingerprint="f", view=whole, start={}, at=AT
        )
        await session.commit()
    assert outcome == "created"
    for row in (ChildRow, CaseRow, LimitRow, EventRow, PendingStartRow):
        assert await _count(db, row, "HALF-1") == 1, row.__tablename__


def test_only_the_tables_own_columns_reach_the_statement() -> None:
    with pytest.raises(ValueError, match="children has no column 'name; DROP'"):
        opening_pg.statement(("case_ref", "name; DROP"), ("case_ref",), (), (), ("case_ref",))


async def test_the_same_case_opened_twice_at_once_is_written_once(db: Sessions) -> None:
    """A caseworker's double click: two opens of one reference at the same moment. One
    writes the case; the other waits for it and answers "same" (not a letter-case clash)."""
    view = case_view(
        "TWICE-1",
        limits=[limit_view(Limit.DECISION_TO_ASSESS, due_on=TODAY)],
        events=[event_view(1, "request_received")],
    )

    async def open_once() -> str:
        async with db() as session:
            outcome = await repository.open_new_case(
                session, child=CHILD, fingerprint="f", view=view, start={}, at=AT
            )
            await session.commit()
            return outcome

    outcomes = await asyncio.gather(*(open_once() for _ in range(4)))
    assert sorted(outcomes) == ["created", "same", "same", "same"]
    for row in (ChildRow, CaseRow, LimitRow, EventRow, PendingStartRow):
        assert await _count(db, row, "TWICE-1") == 1, row.__tablename__
    async with db() as session:
        lag = await session.scalar(select(func.sum(EntryLagCountRow.events)))
    assert lag == 1  # the opening's request_received counted once
