"""Read-only aggregate queries over the case store, for the API's Prometheus collector.

Every function takes an ``AsyncSession`` first and keyword arguments after it, reads only,
and returns counts keyed by bounded codes (stage, limit, agency, event kind): never a case
reference, a name or a date of birth. ``read_snapshot`` runs them all in one transaction so
the figures of one scrape agree with each other.

Definitions (``docs/observability.md`` explains them to managers):

- *open*: a case whose stage is not terminal (``ehc.models.TERMINAL_STAGES``).
- *at risk*: a pending statutory limit that something blocks and that falls due within
  ``at_risk_days`` (as ``repository.list_queue`` and ``LimitView.at_risk`` compute it).
- *breached*: a statutory limit whose latest projected status is ``breached``. A later
  entry with the true date can correct it, so it is a state, not an event count.
- *advice outstanding*: an advice request on an open case with no advice received yet;
  *overdue*: outstanding and past its due date.
- *plans issued within 20 weeks* (DfE SEN2): final plans issued in the 12 months ending
  today, and of those issued within 20 weeks of Day 0 (reg 13(2)). An exception case as at
  today (SEN2 ``Week20`` = 1) is left out of both numerator and denominator of "excluding
  exceptions". Both definitions are ``ehc.measures``', shared with the timeliness report.
- *data-entry lag*: for events a person entered (not the system's own evaluations), the
  days from the date the event happened to the day it was entered, in England.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    SQLColumnExpression,
    and_,
    case,
    cast,
    false,
    func,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ehc import measures, statutory
from ehc.models import TERMINAL_STAGES, Stage
from ehc.statutory import STATUTORY, Agency, Limit, LimitStatus
from ehc.store import entry_lag, report_queries
from ehc.store.entry_lag import ENTERED_EVENT_KINDS
from ehc.store.tables import (
    AdviceRequestRow,
    CaseRow,
    EventRow,
    LimitRow,
    NotificationRow,
    SubmissionRow,
    TeamRow,
)

OPEN_STAGES: tuple[str, ...] = tuple(s.value for s in Stage if s not in TERMINAL_STAGES)
STATUTORY_LIMITS: tuple[str, ...] = tuple(lim.value for lim in Limit if STATUTORY[lim])
AGENCIES: tuple[str, ...] = tuple(a.value for a in Agency)
EXCEPTIONS_SCOPES: tuple[str, ...] = ("included", "excluded")


_PENDING = LimitStatus.PENDING.value
_BREACHED = LimitStatus.BREACHED.value
_NOT_APPLICABLE = LimitStatus.NOT_APPLICABLE.value
_FINAL_PLAN = Limit.FINAL_PLAN.value


@dataclass(frozen=True)
class StoreSnapshot:
    """Every figure the collector exposes, read at one moment; zero-filled per label."""

    open_by_stage: Mapping[str, int]
    limits_pending: Mapping[str, int]
    limits_at_risk: Mapping[str, int]
    limits_breached: Mapping[str, int]
    assessments_at_risk: int
    advice_outstanding: Mapping[str, int]
    advice_overdue: Mapping[str, int]
    plans_issued: Mapping[str, int]
    plans_within_20_weeks: Mapping[str, int]
    entry_lag_days: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    chasing: ChasingFigures = field(default_factory=lambda: ChasingFigures({}, {}, {}, {}))
    advice_overdue_by_team: Mapping[tuple[str, str], int] = field(default_factory=dict)
    guidance_pending: Mapping[str, int] = field(
        default_factory=lambda: dict.fromkeys(GUIDANCE_LIMITS, 0)
    )
    guidance_breached: Mapping[str, int] = field(
        default_factory=lambda: dict.fromkeys(GUIDANCE_LIMITS, 0)
    )


@dataclass(frozen=True)
class ChasingFigures:
    """Durable counts from the notification ledger, submissions and advice outcomes."""

    notices_sent: Mapping[tuple[str, str], int]  # (agency, kind)
    failed_attempts: Mapping[str, int]  # agency
    missing_inputs: Mapping[str, int]  # agency
    outcomes: Mapping[tuple[str, str], int]  # (agency, outcome)


def _zero_filled(keys: tuple[str, ...], counts: Mapping[str, int]) -> dict[str, int]:
    """Counts for exactly ``keys``: missing ones are 0, unknown codes are dropped."""
    return {key: int(counts.get(key, 0)) for key in keys}


# --- assessments ---------------------------------------------------------------------------


async def open_assessments_by_stage(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(CaseRow.stage, func.count())
        .where(CaseRow.stage.in_(OPEN_STAGES))
        .group_by(CaseRow.stage)
    )
    return _zero_filled(OPEN_STAGES, {stage: n for stage, n in rows})


def _at_risk(today: date, at_risk_days: int) -> ColumnElement[bool]:
    return and_(
        LimitRow.status == _PENDING,
        LimitRow.blocked_by.is_not(None),
        LimitRow.due_on <= today + timedelta(days=at_risk_days),
    )


async def _limits_by_status(
    session: AsyncSession, *, is_statutory: bool, at_risk: ColumnElement[bool]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Statutory (or guidance) limits pending, at risk and breached, each by limit code.

    Two queries: the pending limits are those of open cases (few, by
    ``ix_limits_status_due_on``); the breached ones stay breached after their case
    closes (many), so they are counted from ``ix_limits_status_statutory_limit`` alone.
    """
    rows = await session.execute(
        select(LimitRow.limit, func.count(), func.sum(case((at_risk, 1), else_=0)))
        .where(LimitRow.status == _PENDING, LimitRow.statutory.is_(is_statutory))
        .group_by(LimitRow.limit)
    )
    pending: dict[str, int] = {}
    risky: dict[str, int] = {}
    for limit, n_pending, n_risk in rows:
        pending[limit] = int(n_pending or 0)
        risky[limit] = int(n_risk or 0)
    breached_rows = await session.execute(
        select(LimitRow.limit, func.count())
        .where(LimitRow.status == _BREACHED, LimitRow.statutory == is_statutory)
        .group_by(LimitRow.limit)
    )
    breached = {limit: int(n) for limit, n in breached_rows}
    return pending, risky, breached


async def limits_by_status(
    session: AsyncSession, *, today: date, at_risk_days: int
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Statutory limits pending, at risk and breached, each by limit."""
    pending, risky, breached = await _limits_by_status(
        session, is_statutory=True, at_risk=_at_risk(today, at_risk_days)
    )
    return (
        _zero_filled(STATUTORY_LIMITS, pending),
        _zero_filled(STATUTORY_LIMITS, risky),
        _zero_filled(STATUTORY_LIMITS, breached),
    )


# Limits that can be guidance (statutory false): CoP 9.41 advice (rules.md 8.4).
GUIDANCE_LIMITS: tuple[str, ...] = (Limit.ADVICE.value,)


async def guidance_limits_by_status(
    session: AsyncSession,
) -> tuple[dict[str, int], dict[str, int]]:
    """Guidance limits (``statutory`` false) pending and breached now, by limit: their own
    figures, never mixed into the statutory ones (rules.md 8.4)."""
    pending, _, breached = await _limits_by_status(session, is_statutory=False, at_risk=false())
    return _zero_filled(GUIDANCE_LIMITS, pending), _zero_filled(GUIDANCE_LIMITS, breached)


async def assessments_at_risk(session: AsyncSession, *, today: date, at_risk_days: int) -> int:
    """Cases with at least one limit at risk (the queue's ``status=at_risk``)."""
    count = await session.scalar(
        select(func.count(func.distinct(LimitRow.case_ref))).where(_at_risk(today, at_risk_days))
    )
    return int(count or 0)


# --- advice ---------------------------------------------------------------------------------


def _outstanding_on_open_cases() -> tuple[ColumnElement[bool], ...]:
    """Advice requested on an open case, applicable and not received yet (with a join of
    ``AdviceRequestRow`` to ``CaseRow``)."""
    return (
        AdviceRequestRow.advice_received_on.is_(None),
        AdviceRequestRow.status != _NOT_APPLICABLE,
        CaseRow.stage.in_(OPEN_STAGES),
    )


async def advice_by_agency(
    session: AsyncSession, *, today: date
) -> tuple[dict[str, int], dict[str, int]]:
    """Advice outstanding and overdue on open cases, by agency."""
    rows = await session.execute(
        select(
            AdviceRequestRow.agency,
            func.count(),
            func.sum(case((AdviceRequestRow.due_on < today, 1), else_=0)),
        )
        .join(CaseRow, CaseRow.case_ref == AdviceRequestRow.case_ref)
        .where(*_outstanding_on_open_cases())
        .group_by(AdviceRequestRow.agency)
    )
    outstanding: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for agency, n_outstanding, n_overdue in rows:
        outstanding[agency] = int(n_outstanding or 0)
        overdue[agency] = int(n_overdue or 0)
    return _zero_filled(AGENCIES, outstanding), _zero_filled(AGENCIES, overdue)


NO_TEAM = "none"


async def advice_overdue_by_team(
    session: AsyncSession, *, today: date
) -> dict[tuple[str, str], int]:
    """Overdue advice on open cases by (agency, team), as ``advice_by_agency`` counts it.
    Every team in the directory is present (0 when it owes nothing), so the label set is
    the directory's bounded list of team ids; a request with no team counts as ``none``."""
    rows = await session.execute(
        select(AdviceRequestRow.agency, AdviceRequestRow.team, func.count())
        .join(CaseRow, CaseRow.case_ref == AdviceRequestRow.case_ref)
        .where(*_outstanding_on_open_cases(), AdviceRequestRow.due_on < today)
        .group_by(AdviceRequestRow.agency, AdviceRequestRow.team)
    )
    teams = await session.execute(select(TeamRow.agency, TeamRow.id))
    counts: dict[tuple[str, str], int] = {(agency, team): 0 for agency, team in teams}
    for agency, team, n in rows:
        key = (agency, team or NO_TEAM)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


async def chasing_figures(session: AsyncSession) -> ChasingFigures:
    """What chasing has done, from durable rows: notices sent by agency and kind (request,
    reminder, due today, overdue, escalation, returned for quality), failed send attempts,
    missing inputs (refused submissions) and advice outcomes (nil returns among them)."""
    sent = await session.execute(
        select(NotificationRow.agency, NotificationRow.kind, func.count())
        .where(NotificationRow.status == "sent")
        .group_by(NotificationRow.agency, NotificationRow.kind)
    )
    failed = await session.execute(
        select(
            NotificationRow.agency,
            func.sum(
                NotificationRow.attempts - case((NotificationRow.status == "sent", 1), else_=0)
            ),
        ).group_by(NotificationRow.agency)
    )
    missing = await session.execute(
        select(SubmissionRow.agency, func.count())
        .where(SubmissionRow.accepted.is_(False))
        .group_by(SubmissionRow.agency)
    )
    outcomes = await session.execute(
        select(AdviceRequestRow.agency, AdviceRequestRow.outcome, func.count()).group_by(
            AdviceRequestRow.agency, AdviceRequestRow.outcome
        )
    )
    return ChasingFigures(
        notices_sent={(a, k): int(n) for a, k, n in sent},
        failed_attempts=_zero_filled(AGENCIES, {a: int(n or 0) for a, n in failed}),
        missing_inputs=_zero_filled(AGENCIES, {a: int(n) for a, n in missing}),
        outcomes={(a, o): int(n) for a, o, n in outcomes},
    )


# --- the 20-week measure --------------------------------------------------------------------


async def plans_within_20_weeks(
    session: AsyncSession, *, today: date
) -> tuple[dict[str, int], dict[str, int]]:
    """Final plans issued in the 12 months ending ``today`` and, of those, issued within 20
    weeks; each ``{"included": n, "excluded": n}`` for exceptions included and excluded.
    The rows and the predicates are the timeliness report's (``ehc.measures``)."""
    start, end = measures.twelve_months_ending(today)
    plans = await report_queries.final_plans_issued(session, start=start, end=end)
    counts = measures.week20_counts(
        (
            (p.received_on, p.issued_on, measures.exception_case_as_at(p.exceptions, today))
            for p in plans
        ),
        start=start,
        end=end,
    )
    return (
        {"included": counts.issued, "excluded": counts.issued_ex},
        {"included": counts.within, "excluded": counts.within_ex},
    )


# --- data-entry lag -------------------------------------------------------------------------


def _bst_change_sqlite(year: ColumnElement[str], month: int) -> ColumnElement[str]:
    """The UTC instant BST starts or ends in ``year``: the last Sunday of ``month`` (the
    Sunday on or after its 7th-to-last day) at ``statutory.BST_CHANGES_AT_UTC``."""
    last_week = calendar.monthrange(2001, month)[1] - 6
    at = statutory.BST_CHANGES_AT_UTC
    sunday = func.date(year.concat(f"-{month:02d}-{last_week:02d}"), "weekday 0")
    return func.datetime(sunday, f"+{at.hour * 3600 + at.minute * 60} seconds")


def _london_date_sqlite(ts: SQLColumnExpression[datetime]) -> ColumnElement[str]:
    """The England date of a UTC timestamp stored by SQLite as ``YYYY-MM-DD HH:MM:SS...``.

    SQLite has no time zone data, so British Summer Time is computed from the rule that
    ``ehc.statutory.london_offset`` applies, built from the constants it exports.
    """
    year = func.strftime("%Y", ts)
    bst_starts = _bst_change_sqlite(year, statutory.BST_STARTS_MONTH)
    bst_ends = _bst_change_sqlite(year, statutory.BST_ENDS_MONTH)
    offset = f"+{int(statutory.BST_OFFSET.total_seconds())} seconds"
    return case(
        (and_(ts >= bst_starts, ts < bst_ends), func.date(ts, offset)),
        else_=func.date(ts),
    )


def london_date_sql(ts: SQLColumnExpression[datetime], dialect: str) -> ColumnElement[date]:
    """``ehc.statutory.london_date`` in SQL, for a UTC timestamp column: PostgreSQL from
    its tz database, SQLite from statutory's rule (a test holds both to the Python)."""
    if dialect == "postgresql":
        return cast(func.timezone("Europe/London", ts), Date)
    if dialect == "sqlite":
        return type_coerce(_london_date_sqlite(ts), Date)
    raise NotImplementedError(f"the case store does not support {dialect}")


def _entry_lag_days(dialect: str) -> ColumnElement[int]:
    entered = EventRow.entered_at
    if dialect == "postgresql":
        london_day = london_date_sql(entered, dialect)
        return cast(london_day - EventRow.occurred_on, Integer)
    if dialect == "sqlite":
        days = func.julianday(_london_date_sqlite(entered)) - func.julianday(EventRow.occurred_on)
        return cast(days, Integer)
    raise NotImplementedError(f"the case store does not support {dialect}")


async def entry_lag_days(session: AsyncSession) -> dict[str, dict[int, int]]:
    """How many entered events had each lag in whole days, by event kind: the counts kept
    as events are written (``ehc.store.entry_lag``), a few hundred rows however many
    events the store holds."""
    return await entry_lag.entry_lag_days(session)


async def recount_entry_lag_days(session: AsyncSession) -> dict[str, dict[int, int]]:
    """``entry_lag_days`` recounted from every event (a scan of the events table: for
    checking the kept counts, never for a scrape).

    The events table is append-only, so these counts only grow: they form a cumulative
    histogram that survives restarts. A negative lag (clock skew) counts as 0.
    """
    lag = _entry_lag_days(session.get_bind().dialect.name).label("lag")
    rows = await session.execute(
        select(EventRow.kind, lag, func.count())
        .where(EventRow.kind.in_(ENTERED_EVENT_KINDS))
        .group_by(EventRow.kind, lag)
    )
    result: dict[str, dict[int, int]] = {kind: {} for kind in ENTERED_EVENT_KINDS}
    for kind, days, n in rows:
        per_kind = result.setdefault(kind, {})
        key = max(int(days or 0), 0)
        per_kind[key] = per_kind.get(key, 0) + int(n)
    return result


# --- everything at once ---------------------------------------------------------------------


async def read_snapshot(session: AsyncSession, *, today: date, at_risk_days: int) -> StoreSnapshot:
    """Every figure, read in one transaction (a consistent snapshot on PostgreSQL too when
    the session runs at REPEATABLE READ; on the default READ COMMITTED each query sees the
    latest committed state, which is close enough for a 15-second gauge)."""
    stages = await open_assessments_by_stage(session)
    pending, at_risk, breached = await limits_by_status(
        session, today=today, at_risk_days=at_risk_days
    )
    cases_at_risk = await assessments_at_risk(session, today=today, at_risk_days=at_risk_days)
    outstanding, overdue = await advice_by_agency(session, today=today)
    issued, within = await plans_within_20_weeks(session, today=today)
    lag = await entry_lag_days(session)
    chasing = await chasing_figures(session)
    by_team = await advice_overdue_by_team(session, today=today)
    guidance_pending, guidance_breached = await guidance_limits_by_status(session)
    return StoreSnapshot(
        open_by_stage=stages,
        limits_pending=pending,
        limits_at_risk=at_risk,
        limits_breached=breached,
        assessments_at_risk=cases_at_risk,
        advice_outstanding=outstanding,
        advice_overdue=overdue,
        plans_issued=issued,
        plans_within_20_weeks=within,
        entry_lag_days=lag,
        chasing=chasing,
        advice_overdue_by_team=by_team,
        guidance_pending=guidance_pending,
        guidance_breached=guidance_breached,
    )


# --- the rows behind the figures (the managers' pages) ---------------------------------------
# Each list uses the predicate its figure above counts with, so a count and its list agree.


async def breached_limits(session: AsyncSession, *, limit: str | None = None) -> list[LimitRow]:
    """The statutory limits ``limits_by_status`` counts as breached (of one limit, or all),
    soonest due first."""
    query = select(LimitRow).where(LimitRow.statutory.is_(True), LimitRow.status == _BREACHED)
    if limit is not None:
        query = query.where(LimitRow.limit == limit)
    rows = await session.scalars(query.order_by(LimitRow.due_on, LimitRow.case_ref))
    return list(rows)


def _pending_due_within(today: date, days: int) -> tuple[ColumnElement[bool], ...]:
    return (
        LimitRow.statutory.is_(True),
        LimitRow.status == _PENDING,
        LimitRow.due_on <= today + timedelta(days=days),
    )


async def limits_due_within(session: AsyncSession, *, today: date, days: int) -> dict[str, int]:
    """Pending statutory limits falling due within ``days`` of ``today``, by limit."""
    rows = await session.execute(
        select(LimitRow.limit, func.count())
        .where(*_pending_due_within(today, days))
        .group_by(LimitRow.limit)
    )
    return _zero_filled(STATUTORY_LIMITS, {lim: int(n) for lim, n in rows})


async def limits_due_within_list(
    session: AsyncSession, *, today: date, days: int, limit: str | None = None
) -> list[LimitRow]:
    """The limits ``limits_due_within`` counts, soonest due first."""
    query = select(LimitRow).where(*_pending_due_within(today, days))
    if limit is not None:
        query = query.where(LimitRow.limit == limit)
    rows = await session.scalars(query.order_by(LimitRow.due_on, LimitRow.case_ref))
    return list(rows)


async def overdue_advice(
    session: AsyncSession, *, today: date, agency: str | None = None, team: str | None = None
) -> list[AdviceRequestRow]:
    """The requests ``advice_by_agency`` and ``advice_overdue_by_team`` count as overdue (of
    one agency, and one team: ``NO_TEAM`` for requests with none), soonest due first."""
    query = (
        select(AdviceRequestRow)
        .join(CaseRow, CaseRow.case_ref == AdviceRequestRow.case_ref)
        .where(*_outstanding_on_open_cases(), AdviceRequestRow.due_on < today)
    )
    if agency is not None:
        query = query.where(AdviceRequestRow.agency == agency)
    if team == NO_TEAM:
        query = query.where(AdviceRequestRow.team.is_(None))
    elif team is not None:
        query = query.where(AdviceRequestRow.team == team)
    rows = await session.scalars(query.order_by(AdviceRequestRow.due_on, AdviceRequestRow.id))
    return list(rows)
