"""A team's open advice requests a page at a time, on SQLite and PostgreSQL: soonest due
first, its own requests only, open ones only, and the team's total beside each page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.store import advice_requests, repository
from ehc.store.tables import AdviceRequestRow
from tests.ehc.store.conftest import TODAY, advice_view, case_view

Sessions = async_sessionmaker[AsyncSession]
TEAM = "chc"


async def _requests(db: Sessions, team: str, count: int, prefix: str) -> list[str]:
    """``count`` open requests for ``team``, one case each, due on shuffled days (two share
    each day, so the id breaks the tie); their ids, soonest due first."""
    due: dict[str, object] = {}
    async with db() as session, session.begin():
        for n in range(count):
            advice_id = f"{prefix}-{n:03d}"
            await repository.project_case(
                session, case_view(f"{prefix}{n:03d}", advice=[advice_view(advice_id, team=team)])
            )
            due_on = TODAY + timedelta(days=(n * 7) % count // 2)
            due[advice_id] = due_on
            await session.execute(
                update(AdviceRequestRow)
                .where(AdviceRequestRow.id == advice_id)
                .values(due_on=due_on)
            )
    return sorted(due, key=lambda i: (due[i], i))


async def test_a_team_reads_its_open_requests_a_page_at_a_time_soonest_due_first(
    db: Sessions,
) -> None:
    in_order = await _requests(db, TEAM, 53, "A")
    other = await _requests(db, "camhs", 3, "B")
    async with db() as session, session.begin():
        closed = in_order.pop(5)  # a received request is not on the team's list
        await session.execute(
            update(AdviceRequestRow).where(AdviceRequestRow.id == closed).values(outcome="received")
        )
    async with db() as session:
        first = await advice_requests.team_requests_page(session, team=TEAM, page=1, per_page=25)
        second = await advice_requests.team_requests_page(session, team=TEAM, page=2, per_page=25)
        third = await advice_requests.team_requests_page(session, team=TEAM, page=3, per_page=25)
        beyond = await advice_requests.team_requests_page(session, team=TEAM, page=9, per_page=25)
        whole = await advice_requests.team_requests(session, team=TEAM)
    shown = [r.id for p in (first, second, third) for r in p.requests]
    assert shown == in_order == [r.id for r in whole]
    assert [len(p.requests) for p in (first, second, third)] == [25, 25, 2]
    assert {p.total for p in (first, second, third, beyond)} == {52}
    assert (first.last_page, third.first_shown, third.last_shown) == (3, 51, 52)
    assert beyond.requests == []
    assert not set(shown) & set(other)
    assert all(r.team == TEAM for p in (first, second, third) for r in p.requests)


async def test_a_team_with_no_open_requests_has_one_empty_page(db: Sessions) -> None:
    async with db() as session:
        empty = await advice_requests.team_requests_page(session, team=TEAM, page=1)
    assert (empty.requests, empty.total, empty.last_page, empty.first_shown) == ([], 0, 1, 0)
    with pytest.raises(ValueError, match="count from 1"):
        async with db() as session:
            await advice_requests.team_requests_page(session, team=TEAM, page=0)
