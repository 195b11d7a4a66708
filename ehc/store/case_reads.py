"""The store as the read model: a whole case view rebuilt from the projection's rows.

``read_case`` returns the same ``CaseView`` the assessment workflow's query returns (limits
in the same order, advice requests, exceptions, flags, the audit trail), built from the
rows that ``repository.project_case`` wrote, so a case stays readable after Temporal has
deleted its closed workflow and while no worker runs. What depends on the reading day is
worked out for ``today`` as the workflow would (``as_of`` and each limit's ``at_risk``).

``Projection`` says how fresh the rows are: the sequence number of the last audit event
projected, when the projection last changed the case, and whether the rows are known to lag
the workflow. They lag when a pending limit's due date has already passed: the workflow
records every such passing (breach or exception) as soon as its timer fires, so a pending
limit past its due date means the worker has not yet run for that case (it may be stopped).

Nothing here logs: the rows are a case's record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.case_evaluation import FINALISED_EARLY, rule_version_for
from ehc.models import (
    AdviceRequestView,
    CaseView,
    EventView,
    ExceptionView,
    LimitView,
)
from ehc.statutory import Limit, LimitStatus
from ehc.store.tables import AdviceRequestRow, CaseRow, EventRow, ExceptionRow, LimitRow

# The order in which ``case_evaluation.limits`` lists a case's limits (used for rows projected
# before ``limits.position`` existed).
_LIMIT_ORDER = {
    Limit.DECISION_TO_ASSESS.value: 0,
    Limit.ADVICE.value: 1,
    Limit.NO_PLAN_NOTICE.value: 2,
    Limit.DRAFT_REPRESENTATIONS.value: 3,
    Limit.FINAL_PLAN.value: 4,
}


class Projection(BaseModel):
    """How fresh a case view read from the store is."""

    source: Literal["store", "workflow"] = Field(
        default="store", description="'store' (the projection) or 'workflow' (a live query)"
    )
    projected_seq: int | None = Field(
        default=None, description="The last audit event the store holds for this case"
    )
    projected_at: datetime | None = Field(
        default=None, description="When the projection last changed this case"
    )
    current: bool = Field(
        default=True, description="False when the store is known to lag the case's workflow"
    )
    detail: str | None = Field(default=None, description="Why the view may be out of date")


class StoredCase(BaseModel):
    view: CaseView
    projection: Projection


def _id_order(identifier: str) -> tuple[int, str]:
    """Ids the workflow numbers ``{ref}-adv{n}`` / ``{ref}-exc{n}`` sort by ``n``."""
    return len(identifier), identifier


def _limit_order(row: Any, advice_order: dict[str, int]) -> tuple[int, int, int, str]:
    if row.position is not None:
        return 0, row.position, 0, row.limit_key
    kind = _LIMIT_ORDER.get(row.limit, len(_LIMIT_ORDER))
    return 1, kind, advice_order.get(row.advice_id or "", 0), row.limit_key


def _limit_view(row: Any, *, today: date, at_risk_days: int) -> LimitView:
    status = LimitStatus(row.status)
    return LimitView(
        limit=Limit(row.limit),
        regulation=row.regulation,
        statutory=row.statutory,
        rule_version=rule_version_for(row.due_on),
        family=Limit(row.limit) is Limit.DRAFT_REPRESENTATIONS,  # reg 13(1): the family's
        due_on=row.due_on,
        met_on=row.met_on,
        status=status,
        advice_id=row.advice_id,
        exceptions=list(row.exception_ids),
        blocked_by=row.blocked_by,
        # As case_evaluation._limit works it out for the reading day.
        at_risk=status is LimitStatus.PENDING
        and row.blocked_by is not None
        and (row.due_on - today).days <= at_risk_days,
    )


def _flags(limits: list[LimitView]) -> list[str]:
    """As ``case_evaluation.evaluate`` flags a case (Reg 13(1): finalised inside the period)."""
    early = any(
        v.limit is Limit.DRAFT_REPRESENTATIONS and v.status is LimitStatus.BREACHED for v in limits
    )
    return [FINALISED_EARLY] if early else []


def _lag(limits: list[LimitView], today: date) -> str | None:
    # The no-plan limit legitimately stays pending past its date until the decision whether
    # to issue is recorded (rules.md 8.3); any other pending limit past its date means the
    # workflow has not yet woken to record it.
    overdue = [
        v
        for v in limits
        if v.status is LimitStatus.PENDING
        and v.due_on < today
        and v.limit is not Limit.NO_PLAN_NOTICE
    ]
    if not overdue:
        return None
    first = min(overdue, key=lambda v: v.due_on)
    return (
        f"This view may be out of date: the {first.limit.value.replace('_', ' ')} limit fell "
        f"due on {first.due_on.isoformat()} and the case has not been brought up to date "
        "since. It will be as soon as the case's workflow runs again."
    )


async def read_case(
    session: AsyncSession, *, case_ref: str, today: date, at_risk_days: int
) -> StoredCase | None:
    """The case view as the store holds it, or None if the store has no such case."""
    case = await session.get(CaseRow, case_ref)
    if case is None:
        return None
    advice_rows = sorted(
        (
            await session.scalars(
                select(AdviceRequestRow).where(AdviceRequestRow.case_ref == case_ref)
            )
        ).all(),
        key=lambda r: _id_order(r.id),
    )
    advice_order = {r.id: i for i, r in enumerate(advice_rows)}
    limit_rows = sorted(
        (await session.scalars(select(LimitRow).where(LimitRow.case_ref == case_ref))).all(),
        key=lambda r: _limit_order(r, advice_order),
    )
    exception_rows = sorted(
        (
            await session.scalars(select(ExceptionRow).where(ExceptionRow.case_ref == case_ref))
        ).all(),
        key=lambda r: _id_order(r.id),
    )
    event_rows = (
        await session.scalars(
            select(EventRow).where(EventRow.case_ref == case_ref).order_by(EventRow.seq)
        )
    ).all()

    limits = [_limit_view(r, today=today, at_risk_days=at_risk_days) for r in limit_rows]
    # Whether an adviser is bound by reg 8 or the Code (rules.md 8.4) is its limit's flag.
    advice_statutory = {v.advice_id: v.statutory for v in limits if v.advice_id}
    view = CaseView.model_validate(
        {
            "case_ref": case.case_ref,
            "stage": case.stage,
            "received_on": case.received_on,
            "anchor": case.anchor,
            "requested_by": case.requested_by,
            "rule_version": case.rule_version,
            "as_of": today,
            "limits": limits,
            "advice_requests": [
                AdviceRequestView(
                    id=r.id,
                    agency=r.agency,
                    team=r.team,
                    regulation=r.regulation,
                    requested_on=r.requested_on,
                    received_by_adviser_on=r.received_by_adviser_on,
                    due_on=r.due_on,
                    statutory=advice_statutory.get(r.id, True),
                    advice_received_on=r.advice_received_on,
                    status=r.status,
                    outcome=r.outcome,
                )
                for r in advice_rows
            ],
            "exceptions": [
                ExceptionView.model_validate(
                    {
                        "id": r.id,
                        "limit": r.limit,
                        "kind": r.kind,
                        "advice_id": r.advice_id,
                        "starts_on": r.starts_on,
                        "ends_on": r.ends_on,
                        "closure": r.closure,
                        "entered_by": r.entered_by,
                        "entered_at": r.entered_at,
                    }
                )
                for r in exception_rows
            ],
            "flags": _flags(limits),
            "events": [
                EventView(
                    seq=r.seq,
                    kind=r.kind,
                    occurred_on=r.occurred_on,
                    entered_at=r.entered_at,
                    entered_by=r.entered_by,
                    detail=dict(r.detail),
                )
                for r in event_rows
            ],
            "next_due_on": case.next_due_on,
            "breached": case.breached,
        }
    )
    lag = _lag(limits, today)
    projection = Projection(
        projected_seq=case.projected_seq,
        projected_at=case.updated_at,
        current=lag is None,
        detail=lag,
    )
    return StoredCase(view=view, projection=projection)


async def case_stage(session: AsyncSession, *, case_ref: str) -> str | None:
    """The stage the store holds for a case, or None if it holds no such case."""
    return await session.scalar(select(CaseRow.stage).where(CaseRow.case_ref == case_ref))
