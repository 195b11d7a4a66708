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

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ehc.measures import IssuedPlan, RecordedException
from ehc.models import EventKind
from ehc.statutory import london_date
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
    EventKind.REQUEST_RECEIVED,
    EventKind.DECISION_TO_ASSESS,
    EventKind.DECISION_TO_ISSUE,
    EventKind.DRAFT_PLAN_SERVED,
    EventKind.FINAL_PLAN_ISSUED,
    EventKind.WITHDRAWN,
    EventKind.EXCEPTION_RECORDED,
    EventKind.CORRECTED,  # a correction amends an event above (ehc.reports.outcomes reads it)
    EventKind.REOPENED,  # a reopening undoes a withdrawal or a refusal to assess
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

    ``final_plan_exceptions`` are every exception recorded on the 20-week limit, each
    saying whether the engine accepts it (``limits.exception_ids`` of the ``final_plan``
    limit) and its date (see ``ehc.measures.RecordedException``).
    """

    case_ref: str
    stage: str
    received_on: date
    anchor: str
    events: tuple[EventRecord, ...]
    final_plan_exceptions: tuple[RecordedException, ...] = ()


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

    exceptions = await final_plan_exceptions(session, CaseRow.received_on <= on_or_before)
    return [
        CaseRecord(
            case_ref=ref,
            stage=stage,
            received_on=received_on,
            anchor=anchor,
            events=tuple(events.get(ref, ())),
            final_plan_exceptions=exceptions.get(ref, ()),
        )
        for ref, stage, received_on, anchor in cases
    ]


async def final_plan_exceptions(
    session: AsyncSession, *cases: ColumnElement[bool]
) -> dict[str, tuple[RecordedException, ...]]:
    """Every exception recorded on the 20-week (``final_plan``) limit of the cases that
    match ``cases`` (conditions on ``CaseRow``), by case, in the order recorded.

    ``excuses`` is whether the id is in that limit's ``exception_ids`` (the exceptions the
    law accepts for the limit's period, rules.md 8.1); ``dated_on`` is the date the
    ``exception_recorded`` event carries: ``starts_on``, or the England day of
    ``entered_at`` when the circumstance has no start date (a closure).
    """
    rows = await session.execute(
        select(
            ExceptionRow.case_ref,
            ExceptionRow.id,
            ExceptionRow.kind,
            ExceptionRow.starts_on,
            ExceptionRow.entered_at,
            LimitRow.exception_ids,
        )
        .join(CaseRow, CaseRow.case_ref == ExceptionRow.case_ref)
        .outerjoin(
            LimitRow,
            and_(LimitRow.case_ref == ExceptionRow.case_ref, LimitRow.limit == FINAL_PLAN),
        )
        .where(ExceptionRow.limit == FINAL_PLAN, *cases)
        .order_by(ExceptionRow.case_ref, ExceptionRow.entered_at, ExceptionRow.id)
    )
    found: dict[str, list[RecordedException]] = defaultdict(list)
    for ref, exception_id, kind, starts_on, entered_at, accepted in rows:
        found[ref].append(
            RecordedException(
                id=exception_id,
                kind=kind,
                dated_on=starts_on or london_date(entered_at),
                excuses=exception_id in (accepted or ()),
            )
        )
    return {ref: tuple(items) for ref, items in found.items()}


async def final_plans_issued(session: AsyncSession, *, start: date, end: date) -> list[IssuedPlan]:
    """The final plans issued from ``start`` to ``end`` inclusive, as at ``end``: each case
    whose first ``final_plan_issued`` event dated on or before ``end`` is dated on or after
    ``start`` (as ``ehc.reports.outcomes.outcome_as_at`` reads a case), with its Day 0 and
    the exceptions on its 20-week limit. The managers' gauge counts these."""
    # Only a case with an issue in the window can have its first issue there: those few
    # come from a range of the (kind, occurred_on, case_ref) index, and each one's first
    # issue from its own events (a subquery by case_ref), not from every plan ever issued.
    in_window = select(EventRow.case_ref).where(
        EventRow.kind == EventKind.FINAL_PLAN_ISSUED,
        EventRow.occurred_on >= start,
        EventRow.occurred_on <= end,
    )
    prior = aliased(EventRow)
    first_issue = (
        select(func.min(prior.occurred_on))
        .where(
            prior.case_ref == CaseRow.case_ref,
            prior.kind == EventKind.FINAL_PLAN_ISSUED,
            prior.occurred_on <= end,
        )
        .correlate(CaseRow)
        .scalar_subquery()
    )
    candidates = await session.execute(
        select(CaseRow.case_ref, CaseRow.received_on, first_issue).where(
            CaseRow.case_ref.in_(in_window)
        )
    )
    plans = [(ref, received_on, on) for ref, received_on, on in candidates if on >= start]
    if not plans:
        return []
    exceptions = await final_plan_exceptions(session, CaseRow.case_ref.in_(in_window))
    return [
        IssuedPlan(ref, received_on, on, exceptions.get(ref, ()))
        for ref, received_on, on in sorted(plans)
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
