"""Read-only queries over the case store for statutory returns and reports.

Nothing here writes, commits or logs: the ``children`` table holds personal data. The
queries read the projection written by the assessment workflows (cases, limits, events,
advice requests, exceptions) and return plain frozen records, so the report code in
``ehc.reports`` never touches SQLAlchemy rows. They join on ``cases`` instead of passing
long ``IN`` lists, so they work the same for a hundred cases or a hundred thousand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.store.tables import (
    AdviceRequestRow,
    CaseRow,
    ChildRow,
    EventRow,
    ExceptionRow,
    LimitRow,
)

FINAL_PLAN = "final_plan"

# The audit events that carry a case's outcome; system events (limit_breached,
# limit_exception, breach_corrected) and advice events are not needed for the returns.
OUTCOME_EVENT_KINDS: tuple[str, ...] = (
    "request_received",
    "decision_to_assess",
    "decision_to_issue",
    "draft_plan_served",
    "final_plan_issued",
    "withdrawn",
    "exception_recorded",
    "corrected",  # a correction amends an event above (ehc.reports.outcomes reads it)
    "reopened",  # a reopening undoes a withdrawal or a refusal to assess
)


@dataclass(frozen=True)
class EventRecord:
    """One audit event: what happened and on which date (as the caseworker said)."""

    seq: int
    kind: str
    occurred_on: date
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseRecord:
    """A case as the store holds it, with what the returns need.

    ``final_plan_exception_ids`` are the exceptions the engine accepted on the 20-week
    limit (``limits.exception_ids`` of the ``final_plan`` limit); ``final_plan_exception_kinds``
    the kinds of every exception recorded on that limit (``exceptions`` table).
    """

    case_ref: str
    stage: str
    received_on: date
    anchor: str
    events: tuple[EventRecord, ...]
    final_plan_exception_ids: tuple[str, ...]
    final_plan_exception_kinds: tuple[str, ...]


@dataclass(frozen=True)
class ChildRecord:
    """The child's personal data: the three columns plus the ``extra`` JSON."""

    case_ref: str
    given_name: str
    family_name: str
    date_of_birth: date
    extra: dict[str, Any]


@dataclass(frozen=True)
class AdviceRecord:
    id: str
    case_ref: str
    agency: str
    team: str | None
    requested_on: date
    received_by_adviser_on: date
    due_on: date
    advice_received_on: date | None
    status: str


async def cases_received_by(session: AsyncSession, *, on_or_before: date) -> list[CaseRecord]:
    """Every case whose Day 0 is on or before ``on_or_before``, with its outcome events,
    in case_ref order."""
    cases = (
        await session.execute(
            select(CaseRow.case_ref, CaseRow.stage, CaseRow.received_on, CaseRow.anchor)
            .where(CaseRow.received_on <= on_or_before)
            .order_by(CaseRow.case_ref)
        )
    ).all()
    if not cases:
        return []

    events: dict[str, list[EventRecord]] = defaultdict(list)
    rows = await session.execute(
        select(
            EventRow.case_ref, EventRow.seq, EventRow.kind, EventRow.occurred_on, EventRow.detail
        )
        .join(CaseRow, CaseRow.case_ref == EventRow.case_ref)
        .where(CaseRow.received_on <= on_or_before, EventRow.kind.in_(OUTCOME_EVENT_KINDS))
        .order_by(EventRow.case_ref, EventRow.seq)
    )
    for ref, seq, kind, occurred_on, detail in rows:
        events[ref].append(EventRecord(seq, kind, occurred_on, dict(detail or {})))

    exception_ids: dict[str, tuple[str, ...]] = {}
    rows = await session.execute(
        select(LimitRow.case_ref, LimitRow.exception_ids)
        .join(CaseRow, CaseRow.case_ref == LimitRow.case_ref)
        .where(CaseRow.received_on <= on_or_before, LimitRow.limit == FINAL_PLAN)
    )
    for ref, ids in rows:
        exception_ids[ref] = tuple(ids or ())

    kinds: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(ExceptionRow.case_ref, ExceptionRow.kind)
        .join(CaseRow, CaseRow.case_ref == ExceptionRow.case_ref)
        .where(CaseRow.received_on <= on_or_before, ExceptionRow.limit == FINAL_PLAN)
        .order_by(ExceptionRow.case_ref, ExceptionRow.id)
    )
    for ref, kind in rows:
        kinds[ref].append(kind)

    return [
        CaseRecord(
            case_ref=ref,
            stage=stage,
            received_on=received_on,
            anchor=anchor,
            events=tuple(events.get(ref, ())),
            final_plan_exception_ids=exception_ids.get(ref, ()),
            final_plan_exception_kinds=tuple(kinds.get(ref, ())),
        )
        for ref, stage, received_on, anchor in cases
    ]


async def children_received_by(
    session: AsyncSession, *, on_or_before: date
) -> dict[str, ChildRecord]:
    """The child of every case whose Day 0 is on or before ``on_or_before``."""
    rows = await session.execute(
        select(
            ChildRow.case_ref,
            ChildRow.given_name,
            ChildRow.family_name,
            ChildRow.date_of_birth,
            ChildRow.extra,
        )
        .join(CaseRow, CaseRow.case_ref == ChildRow.case_ref)
        .where(CaseRow.received_on <= on_or_before)
    )
    return {
        ref: ChildRecord(ref, given, family, dob, dict(extra or {}))
        for ref, given, family, dob, extra in rows
    }


async def child_extras_received_between(
    session: AsyncSession, *, start: date, end: date
) -> dict[str, dict[str, Any]]:
    """Only the ``extra`` JSON of the children whose Day 0 falls in ``start``..``end``:
    aggregate reports read codes from it (``rya``) without loading names."""
    rows = await session.execute(
        select(ChildRow.case_ref, ChildRow.extra)
        .join(CaseRow, CaseRow.case_ref == ChildRow.case_ref)
        .where(CaseRow.received_on >= start, CaseRow.received_on <= end)
    )
    return {ref: dict(extra or {}) for ref, extra in rows}


async def advice_requests_by(session: AsyncSession, *, on_or_before: date) -> list[AdviceRecord]:
    """Every advice request sent on or before ``on_or_before``."""
    rows = await session.execute(
        select(
            AdviceRequestRow.id,
            AdviceRequestRow.case_ref,
            AdviceRequestRow.agency,
            AdviceRequestRow.team,
            AdviceRequestRow.requested_on,
            AdviceRequestRow.received_by_adviser_on,
            AdviceRequestRow.due_on,
            AdviceRequestRow.advice_received_on,
            AdviceRequestRow.status,
        )
        .where(AdviceRequestRow.requested_on <= on_or_before)
        .order_by(AdviceRequestRow.id)
    )
    return [AdviceRecord(*row) for row in rows]


async def projection_marks(session: AsyncSession) -> dict[str, tuple[str, int]]:
    """Each projected case's stage and highest audit sequence number.

    Lets a caller (a test, a data load) wait until the asynchronous projection has caught
    up with what the workflows answered.
    """
    rows = await session.execute(
        select(CaseRow.case_ref, CaseRow.stage, func.max(EventRow.seq))
        .join(EventRow, EventRow.case_ref == CaseRow.case_ref)
        .group_by(CaseRow.case_ref, CaseRow.stage)
    )
    return {ref: (stage, int(seq)) for ref, stage, seq in rows}
