"""Reading and writing the case store.

Every function takes an ``AsyncSession`` first and keyword arguments after it. They do
not commit, so a caller can group several in one transaction, except ``create_user``,
which commits. Writes are idempotent and race-safe on SQLite and PostgreSQL: they use
``INSERT ... ON CONFLICT`` (both dialects have it) rather than select-then-insert alone.

Nothing here logs: the ``children`` and ``notes`` tables hold personal data and free text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select, true
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.casefile import limit_key
from ehc.models import CaseView, ChildDetails, QueueItem, User
from ehc.statutory import LimitStatus
from ehc.store.tables import (
    AdviceRequestRow,
    Base,
    CaseRow,
    ChildRow,
    EventRow,
    ExceptionRow,
    LimitRow,
    NoteRow,
    PendingStartRow,
    UserRow,
)

SaveChildOutcome = Literal["created", "same", "conflict"]
QueueStatus = Literal["breached", "at_risk", "pending"]
ROLES: tuple[str, ...] = ("caseworker", "manager", "team", "admin")

_CHILD_FIELDS = frozenset({"given_name", "family_name", "date_of_birth"})
_PENDING = LimitStatus.PENDING.value


class InvalidCursor(ValueError):
    """A queue cursor that this store did not hand out."""


# --- helpers ----------------------------------------------------------------------------


def _insert(session: AsyncSession, row: type[Base]) -> PgInsert | SqliteInsert:
    """An INSERT for the session's dialect that supports ``ON CONFLICT``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(row)
    if dialect == "sqlite":
        return sqlite_insert(row)
    raise NotImplementedError(f"the case store does not support {dialect}")


def _columns(row: type[Base]) -> list[str]:
    return [column.key for column in row.__table__.columns]


async def _rows(
    session: AsyncSession, row: type[Base], *where: ColumnElement[bool]
) -> list[dict[str, Any]]:
    result = await session.execute(select(*row.__table__.columns).where(*where))
    return [dict(mapping) for mapping in result.mappings()]


async def _upsert(
    session: AsyncSession, row: type[Base], key: list[str], values: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``values``, or overwrite every other column of rows whose ``key`` exists."""
    if not values:
        return
    stmt = _insert(session, row)
    stmt_upsert = stmt.on_conflict_do_update(
        index_elements=key,
        set_={name: stmt.excluded[name] for name in _columns(row) if name not in key},
    )
    await session.execute(stmt_upsert, [dict(v) for v in values])


def _changed(
    existing: Mapping[str, dict[str, Any]], wanted: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The wanted rows that are missing from ``existing`` or differ from it."""
    return [row for key, row in wanted.items() if existing.get(key) != row]


# --- children ---------------------------------------------------------------------------


async def save_child(
    session: AsyncSession, *, case_ref: str, child: ChildDetails, fingerprint: str
) -> SaveChildOutcome:
    """Store the child's details once per case.

    ``"created"`` for a new row, ``"same"`` if the case already has a child with this
    fingerprint (a repeated request), ``"conflict"`` if it has a different one; existing
    rows are never changed.
    """
    data = child.model_dump(mode="json")
    extra = {k: v for k, v in data.items() if k not in _CHILD_FIELDS}
    stmt = (
        _insert(session, ChildRow)
        .values(
            case_ref=case_ref,
            given_name=child.given_name,
            family_name=child.family_name,
            date_of_birth=child.date_of_birth,
            extra=extra,
            fingerprint=fingerprint,
        )
        .on_conflict_do_nothing(index_elements=["case_ref"])
        .returning(ChildRow.case_ref)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is not None:
        return "created"
    existing = await session.scalar(
        select(ChildRow.fingerprint).where(ChildRow.case_ref == case_ref)
    )
    return "same" if existing == fingerprint else "conflict"


async def get_child(session: AsyncSession, *, case_ref: str) -> ChildDetails | None:
    row = await session.get(ChildRow, case_ref)
    if row is None:
        return None
    return ChildDetails.model_validate(
        {
            **row.extra,
            "given_name": row.given_name,
            "family_name": row.family_name,
            "date_of_birth": row.date_of_birth,
        }
    )


# --- the case view projection -----------------------------------------------------------


def _case_values(view: CaseView) -> dict[str, Any]:
    return {
        "case_ref": view.case_ref,
        "stage": view.stage.value,
        "received_on": view.received_on,
        "anchor": view.anchor.value,
        "requested_by": view.requested_by.value,
        "rule_version": view.rule_version,
        "next_due_on": view.next_due_on,
        "breached": view.breached,
    }


def _limit_rows(view: CaseView) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for lim in view.limits:
        key = limit_key(lim)
        if key in rows:
            raise ValueError(f"case view {view.case_ref} has two limits keyed {key!r}")
        rows[key] = {
            "case_ref": view.case_ref,
            "limit_key": key,
            "limit": lim.limit.value,
            "advice_id": lim.advice_id,
            "regulation": lim.regulation,
            "statutory": lim.statutory,
            "due_on": lim.due_on,
            "met_on": lim.met_on,
            "status": lim.status.value,
            "blocked_by": lim.blocked_by,
            "exception_ids": list(lim.exceptions),
        }
    return rows


def _advice_rows(view: CaseView) -> dict[str, dict[str, Any]]:
    return {
        a.id: {
            "id": a.id,
            "case_ref": view.case_ref,
            "agency": a.agency.value,
            "team": a.team,
            "regulation": a.regulation,
            "requested_on": a.requested_on,
            "received_by_adviser_on": a.received_by_adviser_on,
            "due_on": a.due_on,
            "advice_received_on": a.advice_received_on,
            "status": a.status.value,
            "outcome": a.outcome.value,
        }
        for a in view.advice_requests
    }


def _exception_rows(view: CaseView) -> dict[str, dict[str, Any]]:
    return {
        e.id: {
            "id": e.id,
            "case_ref": view.case_ref,
            "limit": e.limit.value,
            "kind": e.kind.value,
            "advice_id": e.advice_id,
            "starts_on": e.starts_on,
            "ends_on": e.ends_on,
            "closure": e.closure.model_dump(mode="json") if e.closure else None,
            "entered_by": e.entered_by,
            "entered_at": e.entered_at,
        }
        for e in view.exceptions
    }


async def project_case(session: AsyncSession, view: CaseView) -> None:
    """Make the store reflect ``view``: idempotent, and the audit trail only grows.

    The case row is upserted; the case's limits are replaced by the view's; advice
    requests and exceptions are upserted by id; events not yet stored (by case_ref and
    seq) are inserted and existing events are never touched, so projecting an older view
    loses nothing. ``cases.updated_at`` moves only when the projection changed something,
    so projecting the same view twice leaves every row as it was.
    """
    ref = view.case_ref
    case_values = _case_values(view)
    now = datetime.now(UTC)

    # A write comes first: the case row, which the other tables refer to. On SQLite this
    # takes the write lock at once (waiting up to busy_timeout) instead of failing later
    # when a read snapshot cannot be upgraded to a write.
    inserted = await session.scalar(
        _insert(session, CaseRow)
        .values(**case_values, updated_at=now)
        .on_conflict_do_nothing(index_elements=["case_ref"])
        .returning(CaseRow.case_ref)
    )
    is_new = inserted is not None
    changed = is_new
    if not is_new:
        [stored_case] = await _rows(session, CaseRow, CaseRow.case_ref == ref)
        changed = any(stored_case[k] != v for k, v in case_values.items())

    limits = _limit_rows(view)
    stored_limits = {
        r["limit_key"]: r for r in await _rows(session, LimitRow, LimitRow.case_ref == ref)
    }
    if stored_limits != limits:
        changed = True
        await session.execute(delete(LimitRow).where(LimitRow.case_ref == ref))
        await _upsert(session, LimitRow, ["case_ref", "limit_key"], list(limits.values()))

    advice = _advice_rows(view)
    if advice:
        stored = await _rows(session, AdviceRequestRow, AdviceRequestRow.id.in_(advice))
        todo = _changed({r["id"]: r for r in stored}, advice)
        if todo:
            changed = True
            await _upsert(session, AdviceRequestRow, ["id"], todo)

    exceptions = _exception_rows(view)
    if exceptions:
        stored = await _rows(session, ExceptionRow, ExceptionRow.id.in_(exceptions))
        todo = _changed({r["id"]: r for r in stored}, exceptions)
        if todo:
            changed = True
            await _upsert(session, ExceptionRow, ["id"], todo)

    stored_seqs = set(
        (await session.scalars(select(EventRow.seq).where(EventRow.case_ref == ref))).all()
    )
    new_events = [
        {
            "case_ref": ref,
            "seq": e.seq,
            "kind": e.kind,
            "occurred_on": e.occurred_on,
            "entered_at": e.entered_at,
            "entered_by": e.entered_by,
            "detail": dict(e.detail),
        }
        for e in view.events
        if e.seq not in stored_seqs
    ]
    if new_events:
        changed = True
        stmt = _insert(session, EventRow).on_conflict_do_nothing(index_elements=["case_ref", "seq"])
        await session.execute(stmt, new_events)

    if changed and not is_new:
        await _upsert(session, CaseRow, ["case_ref"], [{**case_values, "updated_at": now}])


# --- the queue ---------------------------------------------------------------------------


def _encode_cursor(due_on: date | None, case_ref: str) -> str:
    raw = f"{due_on.isoformat() if due_on else ''}|{case_ref}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[date | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, case_ref = raw.split("|", 1)
        due_on = date.fromisoformat(due) if due else None
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("invalid queue cursor") from exc
    if not case_ref:
        raise InvalidCursor("invalid queue cursor")
    return due_on, case_ref


async def list_queue(
    session: AsyncSession,
    *,
    today: date,
    at_risk_days: int,
    stage: str | None = None,
    status: QueueStatus | None = None,
    due_within_days: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[QueueItem], str | None]:
    """One page of the caseworkers' queue, soonest due first, and the next page's cursor.

    Each case shows its soonest *pending statutory* limit (None when nothing is pending);
    ``status="pending"`` and ``due_within_days`` look at those limits. A case is at risk
    when any pending limit is blocked and due within ``at_risk_days`` (as the case view
    computes ``LimitView.at_risk``); ``status="breached"`` means ``cases.breached``.
    Cases with nothing pending come last; ties are broken by case_ref. ``cursor`` is the
    opaque string returned with the previous page (``InvalidCursor`` if it is not one).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")

    soonest = (
        select(LimitRow.case_ref, func.min(LimitRow.due_on).label("due_on"))
        .where(LimitRow.status == _PENDING, LimitRow.statutory == true())
        .group_by(LimitRow.case_ref)
        .subquery("soonest")
    )
    due_on = soonest.c.due_on
    at_risk = (
        exists()
        .where(
            LimitRow.case_ref == CaseRow.case_ref,
            LimitRow.status == _PENDING,
            LimitRow.blocked_by.is_not(None),
            LimitRow.due_on <= today + timedelta(days=at_risk_days),
        )
        .correlate(CaseRow)
    )
    nothing_pending = case((due_on.is_(None), 1), else_=0)

    query = select(
        CaseRow.case_ref,
        CaseRow.stage,
        CaseRow.received_on,
        CaseRow.breached,
        due_on,
        at_risk.label("at_risk"),
    ).outerjoin(soonest, soonest.c.case_ref == CaseRow.case_ref)

    if stage is not None:
        query = query.where(CaseRow.stage == stage)
    if status == "breached":
        query = query.where(CaseRow.breached == true())
    elif status == "pending":
        query = query.where(due_on.is_not(None))
    elif status == "at_risk":
        query = query.where(at_risk)
    elif status is not None:
        raise ValueError(f"unknown queue status {status!r}")
    if due_within_days is not None:
        query = query.where(due_on <= today + timedelta(days=due_within_days))

    if cursor is not None:
        after_due, after_ref = _decode_cursor(cursor)
        if after_due is None:
            query = query.where(due_on.is_(None), CaseRow.case_ref > after_ref)
        else:
            query = query.where(
                or_(
                    due_on > after_due,
                    and_(due_on == after_due, CaseRow.case_ref > after_ref),
                    due_on.is_(None),
                )
            )

    query = query.order_by(nothing_pending, due_on, CaseRow.case_ref).limit(limit + 1)
    rows = (await session.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]

    first_limit: dict[str, tuple[str, str]] = {}
    refs = [r.case_ref for r in rows if r.due_on is not None]
    if refs:
        pending = await session.execute(
            select(LimitRow.case_ref, LimitRow.limit, LimitRow.status)
            .where(
                LimitRow.case_ref.in_(refs),
                LimitRow.status == _PENDING,
                LimitRow.statutory == true(),
            )
            .order_by(LimitRow.case_ref, LimitRow.due_on, LimitRow.limit_key)
        )
        for ref, lim, lim_status in pending:
            first_limit.setdefault(ref, (lim, lim_status))

    items = [
        QueueItem.model_validate(
            {
                "case_ref": r.case_ref,
                "stage": r.stage,
                "received_on": r.received_on,
                "limit": first_limit[r.case_ref][0] if r.case_ref in first_limit else None,
                "due_on": r.due_on if r.case_ref in first_limit else None,
                "status": first_limit[r.case_ref][1] if r.case_ref in first_limit else None,
                "at_risk": bool(r.at_risk),
                "breached": bool(r.breached),
            }
        )
        for r in rows
    ]
    next_cursor = _encode_cursor(rows[-1].due_on, rows[-1].case_ref) if more else None
    return items, next_cursor


# --- notes -------------------------------------------------------------------------------


async def save_note(session: AsyncSession, *, key: str, case_ref: str, text: str) -> None:
    """Store a note once: saving the same key again keeps the first text (audit)."""
    stmt = (
        _insert(session, NoteRow)
        .values(key=key, case_ref=case_ref, text=text)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    await session.execute(stmt)


async def get_note(session: AsyncSession, *, key: str) -> str | None:
    return await session.scalar(select(NoteRow.text).where(NoteRow.key == key))


# --- users -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User.model_validate({"id": row.id, "name": row.name, "role": row.role, "team": row.team})


async def create_user(
    session: AsyncSession, *, name: str, role: str, team: str | None = None
) -> tuple[User, str]:
    """Create a user and commit. Returns the user and their bearer token, shown only once:
    the store keeps just its SHA-256."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    row = UserRow(
        name=name, role=role, team=team, token_hash=_token_hash(token), created_at=datetime.now(UTC)
    )
    session.add(row)
    await session.commit()
    return _user(row), token


async def user_by_token(session: AsyncSession, *, token: str) -> User | None:
    if not token:
        return None
    row = await session.scalar(select(UserRow).where(UserRow.token_hash == _token_hash(token)))
    return _user(row) if row is not None else None


# --- lookups -----------------------------------------------------------------------------


async def advice_request_case(
    session: AsyncSession, *, advice_id: str
) -> tuple[str, str | None] | None:
    """The case and team of an advice request, or None if there is no such request."""
    row = (
        await session.execute(
            select(AdviceRequestRow.case_ref, AdviceRequestRow.team).where(
                AdviceRequestRow.id == advice_id
            )
        )
    ).one_or_none()
    return (row.case_ref, row.team) if row is not None else None


async def list_case_refs(session: AsyncSession) -> list[str]:
    """Every projected case, in case_ref order."""
    return list((await session.scalars(select(CaseRow.case_ref).order_by(CaseRow.case_ref))).all())


# --- starts recorded before their workflow (issue 14) -----------------------------------


async def record_opened_case(
    session: AsyncSession, *, view: CaseView, start: Mapping[str, Any], at: datetime
) -> bool:
    """Write a new case's first view and its pending start; ``False`` if the case exists.

    The lean path for a case nobody has projected yet: three inserts, no reads. The
    workflow's own first projection (``project_case``) then finds the same rows.
    """
    inserted = await session.scalar(
        _insert(session, CaseRow)
        .values(**_case_values(view), updated_at=at)
        .on_conflict_do_nothing(index_elements=["case_ref"])
        .returning(CaseRow.case_ref)
    )
    if inserted is None:
        return False
    limits = list(_limit_rows(view).values())
    if limits:
        await session.execute(_insert(session, LimitRow), limits)
    events = [
        {
            "case_ref": view.case_ref,
            "seq": e.seq,
            "kind": e.kind,
            "occurred_on": e.occurred_on,
            "entered_at": e.entered_at,
            "entered_by": e.entered_by,
            "detail": dict(e.detail),
        }
        for e in view.events
    ]
    if events:
        await session.execute(_insert(session, EventRow), events)
    await session.execute(
        _insert(session, PendingStartRow)
        .values(case_ref=view.case_ref, start=dict(start), created_at=at)
        .on_conflict_do_nothing(index_elements=["case_ref"])
    )
    return True


async def pending_starts(
    session: AsyncSession, *, older_than: datetime, limit: int = 500
) -> list[tuple[str, dict[str, Any]]]:
    """Starts recorded before ``older_than`` whose workflow has not projected yet."""
    result = await session.execute(
        select(PendingStartRow.case_ref, PendingStartRow.start)
        .where(PendingStartRow.created_at < older_than)
        .order_by(PendingStartRow.created_at)
        .limit(limit)
    )
    return [(ref, dict(start)) for ref, start in result.all()]


async def clear_pending_start(session: AsyncSession, *, case_ref: str) -> None:
    await session.execute(delete(PendingStartRow).where(PendingStartRow.case_ref == case_ref))


async def count_open_cases(session: AsyncSession) -> int:
    """Cases with a statutory date still ahead or pending (``next_due_on`` set)."""
    count = await session.scalar(
        select(func.count()).select_from(CaseRow).where(CaseRow.next_due_on.is_not(None))
    )
    return int(count or 0)


async def count_cases(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CaseRow)) or 0)
