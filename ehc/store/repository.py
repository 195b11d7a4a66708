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
import functools
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.case_evaluation import limit_key
from ehc.models import (
    TERMINAL_STAGES,
    CaseView,
    ChildDetails,
    EventView,
    QueueItem,
    Role,
    User,
    UserRecord,
)
from ehc.statutory import Limit, LimitStatus
from ehc.store import entry_lag, opening_pg
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
    TeamRow,
    UserRow,
)

SaveChildOutcome = Literal["created", "same", "conflict", "variant"]
QueueStatus = Literal["breached", "at_risk", "pending"]
ROLES: tuple[str, ...] = tuple(Role)

_CHILD_FIELDS = frozenset({"given_name", "family_name", "date_of_birth"})
_PENDING = LimitStatus.PENDING.value


class InvalidCursor(ValueError):
    """A queue cursor that this store did not hand out."""


# --- helpers ----------------------------------------------------------------------------


def _insert(session: AsyncSession, row: type[Base]) -> PgInsert | SqliteInsert:
    """An INSERT for the session's dialect that supports ``ON CONFLICT``.

    A Core insert into the table, not the ORM entity: an ORM-enabled insert of a list of
    rows goes through the ORM's bulk persistence, several times the CPU per row."""
    dialect = session.get_bind().dialect.name
    table = row.__table__
    assert isinstance(table, Table)
    if dialect == "postgresql":
        return pg_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
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
    dialect = session.get_bind().dialect.name
    # Columns not given (a case's assignee) are left as they are.
    stmt = _upsert_statement(dialect, row, tuple(key), frozenset(values[0]))
    await session.execute(stmt, [dict(v) for v in values])


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, row: type[Base], key: tuple[str, ...], given: frozenset[str]
) -> PgInsert | SqliteInsert:
    """The upsert for these columns, built once: building ``excluded`` makes a proxy of
    every column, which cost a projection more CPU than running the statement."""
    table = row.__table__
    assert isinstance(table, Table)
    stmt = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={name: stmt.excluded[name] for name in _columns(row) if name in given - set(key)},
    )


def _changed(
    existing: Mapping[str, dict[str, Any]], wanted: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The wanted rows that are missing from ``existing`` or differ from it."""
    return [row for key, row in wanted.items() if existing.get(key) != row]


# --- children ---------------------------------------------------------------------------


async def save_child(
    session: AsyncSession,
    *,
    case_ref: str,
    child: ChildDetails,
    fingerprint: str,
    unless_letter_case_variant: bool = False,
) -> SaveChildOutcome:
    """Store the child's details once per case.

    ``"created"`` for a new row, ``"same"`` if the case already has a child with this
    fingerprint (a repeated request), ``"conflict"`` if it has a different one; existing
    rows are never changed. With ``unless_letter_case_variant``, nothing is written either
    when another case holds the reference in other capital or small letters
    (``"variant"``): checked in the insert itself, not by a query of its own.
    """
    values = _child_values(case_ref, child, fingerprint)
    insert = _insert(session, ChildRow)
    if unless_letter_case_variant:
        c = ChildRow.__table__.c
        variant = exists().where(func.lower(c.case_ref) == case_ref.lower(), c.case_ref != case_ref)
        source = select(*(literal(v, c[k].type) for k, v in values.items())).where(~variant)
        stmt = insert.from_select(list(values), source)
    else:
        stmt = insert.values(**values)
    created = await session.scalar(
        stmt.on_conflict_do_nothing(index_elements=["case_ref"]).returning(
            ChildRow.__table__.c.case_ref
        )
    )
    if created is not None:
        return "created"
    return await _why_not_saved(session, case_ref=case_ref, fingerprint=fingerprint)


def _child_values(case_ref: str, child: ChildDetails, fingerprint: str) -> dict[str, Any]:
    data = child.model_dump(mode="json")
    return {
        "case_ref": case_ref,
        "given_name": child.given_name,
        "family_name": child.family_name,
        "date_of_birth": child.date_of_birth,
        "extra": {k: v for k, v in data.items() if k not in _CHILD_FIELDS},
        "fingerprint": fingerprint,
    }


async def _why_not_saved(
    session: AsyncSession, *, case_ref: str, fingerprint: str
) -> SaveChildOutcome:
    """Why a child under ``case_ref`` was not written: the same request again, another
    child under the reference, or the reference taken in other letter case."""
    existing = await session.scalar(
        select(ChildRow.fingerprint).where(ChildRow.case_ref == case_ref)
    )
    if existing is None:
        return "variant"  # nothing under this exact reference: the insert saw a variant
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
        },
        context={"stored": True},
    )


# --- the case view projection -----------------------------------------------------------


def _urgent(view: CaseView) -> tuple[date, str | None]:
    """The case's most urgent open statutory limit: an unmet breach (its due date is past)
    or a pending limit; the family's representation period is never the council's."""
    if view.stage in TERMINAL_STAGES:
        return date.max, None
    open_limits = [
        (lim.due_on, limit_key(lim))
        for lim in view.limits
        if lim.statutory
        and lim.limit is not Limit.DRAFT_REPRESENTATIONS
        and (
            lim.status is LimitStatus.PENDING
            or (lim.status is LimitStatus.BREACHED and lim.met_on is None)
        )
    ]
    if not open_limits:
        return date.max, None
    due_on, key = min(open_limits)
    return due_on, key


def _case_values(view: CaseView) -> dict[str, Any]:
    urgent_on, urgent_limit = _urgent(view)
    return {
        "urgent_on": urgent_on,
        "urgent_limit": urgent_limit,
        "case_ref": view.case_ref,
        "stage": view.stage.value,
        "received_on": view.received_on,
        "anchor": view.anchor.value,
        "requested_by": view.requested_by.value,
        "rule_version": view.rule_version,
        "next_due_on": view.next_due_on,
        "breached": view.breached,
        "projected_seq": max((e.seq for e in view.events), default=0),
    }


def _limit_rows(view: CaseView) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for position, lim in enumerate(view.limits):
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
            "position": position,
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
        .returning(CaseRow.__table__.c.case_ref)
    )
    is_new = inserted is not None
    changed = is_new
    older = False
    if not is_new:
        [stored_case] = await _rows(session, CaseRow, CaseRow.case_ref == ref)
        changed = any(stored_case[k] != v for k, v in case_values.items())
        # A view older than the one stored (a rebuild racing the worker) only adds the
        # events the store lacks: it never takes the case back to an earlier state.
        stored_seq = stored_case["projected_seq"]
        older = stored_seq is not None and case_values["projected_seq"] < stored_seq

    if older:
        await _insert_new_events(session, view)
        return

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

    if await _insert_new_events(session, view):
        changed = True

    if changed and not is_new:
        await _upsert(session, CaseRow, ["case_ref"], [{**case_values, "updated_at": now}])


async def _insert_new_events(session: AsyncSession, view: CaseView) -> bool:
    """Insert the view's events the store does not hold yet; True if there were any."""
    ref = view.case_ref
    stored_seqs = set(
        (await session.scalars(select(EventRow.seq).where(EventRow.case_ref == ref))).all()
    )
    new_events = [_event_row(ref, e) for e in view.events if e.seq not in stored_seqs]
    if not new_events:
        return False
    stmt = (
        _insert(session, EventRow)
        .on_conflict_do_nothing(index_elements=["case_ref", "seq"])
        .returning(EventRow.seq)
    )
    inserted = set((await session.scalars(stmt, new_events)).all())
    # Only the rows this transaction inserted count (a racing projection counts its own).
    await entry_lag.count_entered_events(session, (e for e in new_events if e["seq"] in inserted))
    return True


# --- the queue ---------------------------------------------------------------------------


def _event_row(case_ref: str, e: EventView) -> dict[str, Any]:
    """An audit event as its ``events`` row."""
    return {
        "case_ref": case_ref,
        "seq": e.seq,
        "kind": e.kind,
        "occurred_on": e.occurred_on,
        "entered_at": e.entered_at,
        "entered_by": e.entered_by,
        "detail": dict(e.detail),
    }


async def append_event(
    session: AsyncSession,
    *,
    case_ref: str,
    kind: str,
    occurred_on: date,
    entered_by: str,
    detail: Mapping[str, str],
) -> int:
    """Add an audit line to a case whose workflow has finished (so no projection will
    write that seq again). Returns its seq."""
    last = await session.scalar(select(func.max(EventRow.seq)).where(EventRow.case_ref == case_ref))
    seq = (last or 0) + 1
    event = {
        "case_ref": case_ref,
        "seq": seq,
        "kind": kind,
        "occurred_on": occurred_on,
        "entered_at": datetime.now(UTC),
        "entered_by": entered_by,
        "detail": dict(detail),
    }
    await session.execute(_insert(session, EventRow), [event])
    await entry_lag.count_entered_events(session, [event])
    return seq


# --- the worklist ------------------------------------------------------------------------

WorklistSort = Literal["urgency", "received_on", "case_ref"]
SORTS: tuple[str, ...] = ("urgency", "received_on", "case_ref")


def _worklist_cursor(sort: str, value: date | None, case_ref: str) -> str:
    raw = f"{sort}|{value.isoformat() if value else ''}|{case_ref}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_worklist_cursor(cursor: str, sort: str) -> tuple[date | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        made_for, value, case_ref = raw.split("|", 2)
        on = date.fromisoformat(value) if value else None
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("invalid worklist cursor") from exc
    if made_for != sort or not case_ref:
        raise InvalidCursor("invalid worklist cursor")
    return on, case_ref


async def worklist(
    session: AsyncSession,
    *,
    today: date,
    at_risk_days: int,
    include_closed: bool = False,
    stage: str | None = None,
    status: QueueStatus | None = None,
    due_within_days: int | None = None,
    q: str | None = None,
    assignee_id: int | None = None,
    sort: WorklistSort = "urgency",
    page_size: int = 50,
    cursor: str | None = None,
) -> tuple[list[QueueItem], str | None]:
    """One page of the caseworkers' worklist and the next page's cursor.

    ``sort="urgency"`` (the default) puts open breaches first, longest overdue first, then
    the cases at risk, then the soonest due: the order of ``cases.urgent_on``, the due date
    of each open case's most urgent open limit (an index on ``(urgent_on, case_ref)``).
    Closed cases are left out unless ``include_closed`` (or a closed ``stage`` is asked
    for). ``q`` finds a child's name, a case reference or a UPN.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    at_risk = (
        exists()
        .where(
            LimitRow.case_ref == CaseRow.case_ref,
            LimitRow.status == _PENDING,
            LimitRow.statutory == true(),
            LimitRow.blocked_by.is_not(None),
            LimitRow.due_on <= today + timedelta(days=at_risk_days),
        )
        .correlate(CaseRow)
    )
    urgent = LimitRow
    query = (
        select(
            CaseRow.case_ref,
            CaseRow.stage,
            CaseRow.received_on,
            CaseRow.breached,
            CaseRow.urgent_on,
            CaseRow.assignee_id,
            ChildRow.given_name,
            ChildRow.family_name,
            UserRow.name.label("assignee"),
            urgent.limit,
            urgent.advice_id,
            urgent.due_on,
            urgent.status,
            at_risk.label("at_risk"),
        )
        .outerjoin(ChildRow, ChildRow.case_ref == CaseRow.case_ref)
        .outerjoin(UserRow, UserRow.id == CaseRow.assignee_id)
        .outerjoin(
            urgent,
            and_(urgent.case_ref == CaseRow.case_ref, urgent.limit_key == CaseRow.urgent_limit),
        )
    )
    closed = [s.value for s in TERMINAL_STAGES]
    if stage is not None:
        query = query.where(CaseRow.stage == stage)
    elif not include_closed:
        query = query.where(CaseRow.stage.not_in(closed))
    if status == "breached":
        query = query.where(CaseRow.breached == true())
    elif status == "pending":
        query = query.where(CaseRow.next_due_on.is_not(None))
    elif status == "at_risk":
        query = query.where(at_risk)
    elif status is not None:
        raise ValueError(f"unknown worklist status {status!r}")
    if due_within_days is not None:
        query = query.where(CaseRow.urgent_on <= today + timedelta(days=due_within_days))
    if assignee_id is not None:
        query = query.where(CaseRow.assignee_id == assignee_id)
    if q:
        needle = q.strip().lower()
        full_name = ChildRow.given_name + " " + ChildRow.family_name
        query = query.where(
            or_(
                func.lower(full_name).contains(needle, autoescape=True),
                func.lower(ChildRow.family_name + " " + ChildRow.given_name).contains(
                    needle, autoescape=True
                ),
                func.lower(CaseRow.case_ref).contains(needle, autoescape=True),
                func.lower(ChildRow.extra["upn"].as_string()) == needle,
            )
        )
    key: Any = {
        "urgency": CaseRow.urgent_on,
        "received_on": CaseRow.received_on,
        "case_ref": None,
    }[sort]
    if cursor is not None:
        after, after_ref = _decode_worklist_cursor(cursor, sort)
        if key is None:
            query = query.where(CaseRow.case_ref > after_ref)
        else:
            query = query.where(tuple_(key, CaseRow.case_ref) > tuple_(after, after_ref))
    order = [CaseRow.case_ref] if key is None else [key, CaseRow.case_ref]
    rows = (await session.execute(query.order_by(*order).limit(page_size + 1))).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    items = [_worklist_item(r, today) for r in rows]
    next_cursor = None
    if more:
        last = rows[-1]
        value = {"urgency": last.urgent_on, "received_on": last.received_on}.get(sort)
        next_cursor = _worklist_cursor(sort, value, last.case_ref)
    return items, next_cursor


def _worklist_item(r: Any, today: date) -> QueueItem:
    due_on: date | None = r.due_on if r.limit is not None else None
    overdue = due_on is not None and due_on < today
    return QueueItem.model_validate(
        {
            "case_ref": r.case_ref,
            "stage": r.stage,
            "received_on": r.received_on,
            "limit": r.limit,
            "advice_id": r.advice_id,
            "due_on": due_on,
            "status": r.status if r.limit is not None else None,
            "at_risk": bool(r.at_risk),
            "breached": bool(r.breached),
            "child_name": f"{r.given_name} {r.family_name}" if r.given_name else None,
            "assignee_id": r.assignee_id,
            "assignee": r.assignee,
            "days_overdue": (today - due_on).days if due_on and overdue else None,
            "days_left": (due_on - today).days if due_on and not overdue else None,
        }
    )


async def assign(session: AsyncSession, *, case_ref: str, assignee_id: int | None) -> bool:
    """Assign a case (``None`` to nobody); False if the store has no such case."""
    row = await session.get(CaseRow, case_ref)
    if row is None:
        return False
    row.assignee_id = assignee_id
    return True


async def update_child(
    session: AsyncSession, *, case_ref: str, changes: Mapping[str, Any]
) -> tuple[ChildDetails, list[str]] | None:
    """Apply ``changes`` to the child's details (a field set to None is removed), validated
    as on create. Returns the new details and the names of the fields that changed, or
    None if the case has no child. ``ValidationError`` if the result is not valid."""
    row = await session.get(ChildRow, case_ref)
    if row is None:
        return None
    current = {
        **row.extra,
        "given_name": row.given_name,
        "family_name": row.family_name,
        "date_of_birth": row.date_of_birth.isoformat(),
    }
    merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
    child = ChildDetails.model_validate(merged)
    data = child.model_dump(mode="json")
    changed = sorted(k for k in set(data) | set(current) if data.get(k) != current.get(k))
    row.given_name = child.given_name
    row.family_name = child.family_name
    row.date_of_birth = child.date_of_birth
    row.extra = {k: v for k, v in data.items() if k not in _CHILD_FIELDS}
    return child, changed


# --- notes -------------------------------------------------------------------------------


async def save_note(session: AsyncSession, *, key: str, case_ref: str, text: str) -> None:
    """Store a note once per case and command: saving the same (case, key) again keeps the
    first text (audit); another case's note under the same key is its own row."""
    stmt = (
        _insert(session, NoteRow)
        .values(key=key, case_ref=case_ref, text=text)
        .on_conflict_do_nothing(index_elements=["case_ref", "key"])
    )
    await session.execute(stmt)


async def get_note(session: AsyncSession, *, case_ref: str, key: str) -> str | None:
    return await session.scalar(
        select(NoteRow.text).where(NoteRow.case_ref == case_ref, NoteRow.key == key)
    )


async def case_notes(session: AsyncSession, *, case_ref: str) -> dict[str, str]:
    """Every note of one case, by key (the command's update id)."""
    rows = await session.execute(
        select(NoteRow.key, NoteRow.text).where(NoteRow.case_ref == case_ref)
    )
    return {key: text for key, text in rows.all()}


# --- users -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User.model_validate({"id": row.id, "name": row.name, "role": row.role, "team": row.team})


async def create_user(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    team: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[User, str]:
    """Create a user and commit. Returns the user and their bearer token, shown only once:
    the store keeps just its SHA-256. The token stops working at ``expires_at``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    row = UserRow(
        name=name,
        role=role,
        team=team,
        token_hash=_token_hash(token),
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    session.add(row)
    await session.commit()
    return _user(row), token


async def user_by_token(
    session: AsyncSession, *, token: str, now: datetime | None = None
) -> User | None:
    """The user a token belongs to, unless it was revoked or has expired."""
    if not token:
        return None
    # One indexed lookup of plain columns (no ORM object): it runs on every request, and
    # is never cached, so a revoked token stops working at once.
    users = UserRow.__table__.c
    row = (
        await session.execute(
            select(users.id, users.name, users.role, users.team, users.expires_at).where(
                users.token_hash == _token_hash(token), users.revoked_at.is_(None)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at <= (now or datetime.now(UTC)):
        return None
    return User.model_validate({"id": row.id, "name": row.name, "role": row.role, "team": row.team})


async def user_problem(session: AsyncSession, *, role: str, team: str | None) -> str | None:
    """Why a user with this role and team cannot be created, as a sentence; None if it can."""
    if role not in ROLES:
        return f"There is no role '{role}'; use one of {', '.join(ROLES)}."
    if role == Role.TEAM and not team:
        return "A team user needs a team to answer for (--team on the command line)."
    if role != "team" and team:
        return f"Only a team user belongs to a team; a {role} user cannot."
    if team and await session.get(TeamRow, team) is None:
        return f"There is no team '{team}' in the team directory (see `ehc teams load`)."
    return None


def _user_record(row: UserRow) -> UserRecord:
    return UserRecord.model_validate(row, from_attributes=True)


async def list_users(session: AsyncSession) -> list[UserRecord]:
    """Every user (revoked ones too), oldest first; tokens are never readable."""
    rows = (await session.scalars(select(UserRow).order_by(UserRow.id))).all()
    return [_user_record(row) for row in rows]


async def get_user(session: AsyncSession, *, user_id: int) -> UserRecord | None:
    row = await session.get(UserRow, user_id)
    return None if row is None else _user_record(row)


async def revoke_user(session: AsyncSession, *, user_id: int, now: datetime) -> UserRecord | None:
    """Revoke a user's token (kept revoked if it already was); None if no such user.
    The caller commits."""
    row = await session.get(UserRow, user_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
    return _user_record(row)


async def user_names(session: AsyncSession, *, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(UserRow.id, UserRow.name).where(UserRow.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


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


class _OpeningRows(NamedTuple):
    """A new case's first rows, as both ways of writing them take them."""

    case: dict[str, Any]
    limits: list[dict[str, Any]]
    events: list[dict[str, Any]]
    pending: dict[str, Any]


def _opening_rows(view: CaseView, start: Mapping[str, Any], at: datetime) -> _OpeningRows:
    return _OpeningRows(
        case={**_case_values(view), "updated_at": at},
        limits=list(_limit_rows(view).values()),
        events=[_event_row(view.case_ref, e) for e in view.events],
        pending={"case_ref": view.case_ref, "start": dict(start), "created_at": at},
    )


async def record_opened_case(
    session: AsyncSession, *, view: CaseView, start: Mapping[str, Any], at: datetime
) -> bool:
    """Write a new case's first view and its pending start; ``False`` if the case exists.

    The lean path for a case nobody has projected yet: inserts only, no reads. The
    workflow's own first projection (``project_case``) then finds the same rows.
    """
    rows = _opening_rows(view, start, at)
    inserted = await session.scalar(
        _insert(session, CaseRow)
        .values(**rows.case)
        .on_conflict_do_nothing(index_elements=["case_ref"])
        .returning(CaseRow.__table__.c.case_ref)
    )
    if inserted is None:
        return False
    if rows.limits:
        await session.execute(_insert(session, LimitRow), rows.limits)
    if rows.events:
        await session.execute(_insert(session, EventRow), rows.events)
        await entry_lag.count_entered_events(session, rows.events)
    await session.execute(
        _insert(session, PendingStartRow)
        .values(**rows.pending)
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


async def pending_start(session: AsyncSession, *, case_ref: str) -> dict[str, Any] | None:
    """The workflow input recorded for a case whose workflow has not projected yet."""
    row = await session.get(PendingStartRow, case_ref)
    return None if row is None else dict(row.start)


async def is_pending_start(session: AsyncSession, *, case_ref: str) -> bool:
    """True while the case's workflow has not yet projected (its start may be unmade)."""
    return await session.get(PendingStartRow, case_ref) is not None


async def count_events_entered_by(
    session: AsyncSession, *, case_refs: Sequence[str], entered_by: str, chunk: int = 500
) -> dict[str, int]:
    """How many events of each of ``case_refs`` the store holds entered by ``entered_by``."""
    counts: dict[str, int] = {}
    for i in range(0, len(case_refs), chunk):
        rows = await session.execute(
            select(EventRow.case_ref, func.count())
            .where(
                EventRow.case_ref.in_(case_refs[i : i + chunk]),
                EventRow.entered_by == entered_by,
            )
            .group_by(EventRow.case_ref)
        )
        counts.update({ref: int(n) for ref, n in rows.all()})
    return counts


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


async def open_new_case(
    session: AsyncSession,
    *,
    child: ChildDetails,
    fingerprint: str,
    view: CaseView,
    start: Mapping[str, Any],
    at: datetime,
) -> SaveChildOutcome:
    """Store a new case's child, first view and pending start, unless its reference is
    taken: ``"variant"`` if a case exists under it in other letter case, else as
    ``save_child`` (``"created"``, ``"same"``, ``"conflict"``); only ``"created"`` writes.

    On PostgreSQL the rows are written in one statement (``ehc.store.opening_pg``), which
    commits itself unless ``session`` already has a transaction open; on SQLite step by
    step, and nothing is committed.
    """
    if session.get_bind().dialect.name == "postgresql":
        rows = _opening_rows(view, start, at)
        written = await opening_pg.open_case_rows(
            session,
            child=_child_values(view.case_ref, child, fingerprint),
            case=rows.case,
            limits=rows.limits,
            events=rows.events,
            lag=entry_lag.lag_rows(rows.events),
            pending=rows.pending,
        )
        if written:
            return "created"
        return await _why_not_saved(session, case_ref=view.case_ref, fingerprint=fingerprint)
    outcome = await save_child(
        session,
        case_ref=view.case_ref,
        child=child,
        fingerprint=fingerprint,
        unless_letter_case_variant=True,
    )
    if outcome == "created":
        await record_opened_case(session, view=view, start=start, at=at)
    return outcome
