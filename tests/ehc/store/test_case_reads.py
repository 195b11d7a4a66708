"""Reading a whole case view back from the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.models import CaseView, Stage
from ehc.statutory import Limit, LimitStatus
from ehc.store import case_reads, repository
from ehc.store.tables import LimitRow
from tests.ehc.store.conftest import TODAY, advice_view, case_view, limit_view

Sessions = async_sessionmaker[AsyncSession]


def _view(
    case_ref: str = "R1", *, events: int = 3, stage: Stage = Stage.GATHERING_ADVICE
) -> CaseView:
    advice = [advice_view(f"{case_ref}-adv{n}") for n in (1, 2, 10)]
    return case_view(
        case_ref,
        stage=stage,
        limits=[
            limit_view(
                Limit.DECISION_TO_ASSESS,
                due_on=TODAY - timedelta(days=2),
                status=LimitStatus.MET,
                met_on=TODAY - timedelta(days=3),
            ),
            *(
                limit_view(
                    Limit.ADVICE,
                    due_on=a.due_on,
                    advice_id=a.id,
                    blocked_by="health advice not received",
                )
                for a in advice
            ),
            limit_view(Limit.NO_PLAN_NOTICE, due_on=TODAY + timedelta(days=60)),
            limit_view(
                Limit.FINAL_PLAN,
                due_on=TODAY + timedelta(days=10),
                blocked_by="advice outstanding: health",
            ),
        ],
        advice=advice,
        events=events,
    )


async def _project(db: Sessions, view: CaseView) -> None:
    async with db() as session, session.begin():
        await repository.project_case(session, view)


async def _read(db: Sessions, ref: str = "R1", today: date = TODAY) -> case_reads.StoredCase:
    async with db() as session:
        stored = await case_reads.read_case(
            session,
            case_ref=ref,
            today=today,
            at_risk_days=14,
        )
    assert stored is not None
    return stored


async def test_a_projected_view_reads_back_whole_and_in_order(db: Sessions) -> None:
    view = _view()
    await _project(db, view)
    stored = await _read(db)
    expected = view.model_copy(deep=True)
    for lim in expected.limits:  # the reading day's at-risk, as the workflow works it out
        lim.at_risk = lim.limit is Limit.FINAL_PLAN
    assert stored.view == expected
    assert [a.id for a in stored.view.advice_requests] == ["R1-adv1", "R1-adv2", "R1-adv10"]
    assert stored.projection.projected_seq == 3
    assert stored.projection.current is True


async def test_rows_projected_before_positions_existed_keep_the_views_order(db: Sessions) -> None:
    await _project(db, _view())
    async with db() as session, session.begin():
        await session.execute(update(LimitRow).values(position=None))
    stored = await _read(db)
    assert [(v.limit.value, v.advice_id) for v in stored.view.limits] == [
        ("decision_to_assess", None),
        ("advice", "R1-adv1"),
        ("advice", "R1-adv2"),
        ("advice", "R1-adv10"),
        ("no_plan_notice", None),
        ("final_plan", None),
    ]


async def test_a_pending_limit_past_its_due_date_says_the_view_lags(db: Sessions) -> None:
    """The workflow records every limit passing as soon as it passes; a store still showing
    it pending has not heard from the workflow since (a stopped worker)."""
    await _project(db, _view())
    stored = await _read(db, today=TODAY + timedelta(days=11))
    assert stored.projection.current is False
    assert stored.projection.detail is not None
    assert "final plan limit fell due on" in stored.projection.detail
    assert stored.view.as_of == TODAY + timedelta(days=11)


async def test_an_older_view_never_takes_the_case_back(db: Sessions) -> None:
    newer = _view(events=5, stage=Stage.AWAITING_DECISION_TO_ISSUE)
    await _project(db, newer)
    await _project(db, _view(events=3))
    stored = await _read(db)
    assert stored.view.stage is Stage.AWAITING_DECISION_TO_ISSUE
    assert stored.projection.projected_seq == 5
    assert len(stored.view.events) == 5


async def test_a_case_the_store_does_not_hold_reads_as_none(db: Sessions) -> None:
    async with db() as session:
        assert (
            await case_reads.read_case(session, case_ref="X", today=TODAY, at_risk_days=14) is None
        )
        assert await case_reads.case_stage(session, case_ref="X") is None
