"""The case store's tables (SQLAlchemy 2 declarative).

Enumerations are stored as plain strings so adding a value never needs a migration.
Datetimes are aware UTC: ``UTCDateTime`` stores UTC and always returns an aware UTC
datetime (SQLite keeps no time zone). Constraint names come from ``NAMING_CONVENTION`` so
Alembic migrations are deterministic on every database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASE_REF = 64
CODE = 40
ID = 64
NAME = 200
TEAM = 80


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; read back as aware UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: the store only accepts aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), date: Date(), dict[str, Any]: JSON()}


def _case_fk() -> ForeignKey:
    return ForeignKey("cases.case_ref")


class CaseRow(Base):
    """One row per case: the head of its latest projected case view."""

    __tablename__ = "cases"
    # The worklist: the most urgent open limit first (issue 10), and soonest due with NULLs
    # last (issue 14), each with case_ref as the cursor's tie-break.
    __table_args__ = (
        Index("ix_cases_urgent_on_case_ref", "urgent_on", "case_ref"),
        Index("ix_cases_received_on_case_ref", "received_on", "case_ref"),
        Index("ix_cases_next_due_on_case_ref", "next_due_on", "case_ref"),
    )

    case_ref: Mapped[str] = mapped_column(String(CASE_REF), primary_key=True)
    stage: Mapped[str] = mapped_column(String(CODE), index=True)
    received_on: Mapped[date]
    anchor: Mapped[str] = mapped_column(String(CODE))
    requested_by: Mapped[str] = mapped_column(String(CODE))
    rule_version: Mapped[str] = mapped_column(String(CODE))
    next_due_on: Mapped[date | None]
    breached: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]
    # The last audit event's seq in the projected view (empty for rows projected before
    # revision 0007, until the next projection); updated_at says when it last changed.
    projected_seq: Mapped[int | None] = mapped_column(Integer)
    # The worklist's order: the due date of the most urgent open limit (an open breach's
    # is in the past), ``date.max`` when none; and the caseworker the case is assigned to.
    urgent_on: Mapped[date] = mapped_column(default=date.max, server_default="9999-12-31")
    urgent_limit: Mapped[str | None] = mapped_column(String(120))
    assignee_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ChildRow(Base):
    """The child's personal data. May exist before the case row, so no foreign key."""

    __tablename__ = "children"
    # Case references match whatever their letter case (ehc.store.case_refs).
    __table_args__ = (Index("ix_children_case_ref_lower", text("lower(case_ref)")),)

    case_ref: Mapped[str] = mapped_column(String(CASE_REF), primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(128))


class LimitRow(Base):
    """One statutory (or guidance) limit of a case, as of the latest projection."""

    __tablename__ = "limits"
    __table_args__ = (
        Index("ix_limits_status_due_on", "status", "due_on"),
        Index("ix_limits_limit_met_on", "limit", "met_on"),
        # The breached counts by limit (/metrics, /manager) from the index alone.
        Index("ix_limits_status_statutory_limit", "status", "statutory", "limit"),
    )

    case_ref: Mapped[str] = mapped_column(String(CASE_REF), _case_fk(), primary_key=True)
    limit_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    limit: Mapped[str] = mapped_column(String(CODE))
    advice_id: Mapped[str | None] = mapped_column(String(ID))
    regulation: Mapped[str] = mapped_column(Text)
    statutory: Mapped[bool] = mapped_column(Boolean)
    due_on: Mapped[date]
    met_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(CODE))
    blocked_by: Mapped[str | None] = mapped_column(Text)
    exception_ids: Mapped[list[str]] = mapped_column(JSON)
    position: Mapped[int | None] = mapped_column(Integer)  # its place in the case view


class AdviceRequestRow(Base):
    __tablename__ = "advice_requests"
    __table_args__ = (
        Index("ix_advice_requests_advice_received_on_agency", "advice_received_on", "agency"),
        # A team's open requests, soonest due first (the advice list).
        Index("ix_advice_requests_team_outcome_due_on", "team", "outcome", "due_on"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(CASE_REF), _case_fk(), index=True)
    agency: Mapped[str] = mapped_column(String(CODE))
    team: Mapped[str | None] = mapped_column(String(TEAM))
    regulation: Mapped[str] = mapped_column(Text)
    requested_on: Mapped[date]
    received_by_adviser_on: Mapped[date]
    due_on: Mapped[date]
    advice_received_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(CODE))
    outcome: Mapped[str] = mapped_column(
        String(CODE), default="outstanding", server_default="outstanding"
    )


class ExceptionRow(Base):
    __tablename__ = "exceptions"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(CASE_REF), _case_fk(), index=True)
    limit: Mapped[str] = mapped_column(String(CODE))
    kind: Mapped[str] = mapped_column(String(CODE))
    advice_id: Mapped[str | None] = mapped_column(String(ID))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    closure: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    entered_by: Mapped[str] = mapped_column(String(NAME))
    entered_at: Mapped[datetime]


class EventRow(Base):
    """The append-only audit trail: rows are inserted, never updated or deleted."""

    __tablename__ = "events"
    # Events of a kind in a date range (plans issued in a year), case_ref from the index.
    __table_args__ = (
        Index("ix_events_kind_occurred_on_case_ref", "kind", "occurred_on", "case_ref"),
    )

    case_ref: Mapped[str] = mapped_column(String(CASE_REF), _case_fk(), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    occurred_on: Mapped[date]
    entered_at: Mapped[datetime]
    entered_by: Mapped[str] = mapped_column(String(NAME))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class EntryLagCountRow(Base):
    """How many entered events of a kind had a data-entry lag of ``lag_days`` whole days
    (``ehc.store.entry_lag``): kept as events are written, in the same transaction, so the
    ``/metrics`` histogram reads a few hundred rows instead of every event."""

    __tablename__ = "entry_lag_counts"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    lag_days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(Integer)


class PendingStartRow(Base):
    """A case written to the store whose workflow may not have started yet.

    The API writes it with the case's rows, then starts the workflow; the workflow's first
    projection deletes it, and a sweep starts the workflow of any row left behind by a
    crash. ``start`` is the workflow's input (case ref, dates, codes: no personal data).
    """

    __tablename__ = "pending_starts"

    case_ref: Mapped[str] = mapped_column(String(CASE_REF), primary_key=True)
    start: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)


class NoteRow(Base):
    """Free text (exception or withdrawal reasons) that must stay out of Temporal."""

    __tablename__ = "notes"

    # Keyed by case and command: one case's reason can never shadow another's.
    case_ref: Mapped[str] = mapped_column(String(CASE_REF), primary_key=True, index=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME))
    role: Mapped[str] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(TEAM))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    email: Mapped[str | None] = mapped_column(String(NAME), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(NAME))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]


class WebSessionRow(Base):
    """A signed-in browser: the cookie holds a random id, the store only its SHA-256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TeamSignInLinkRow(Base):
    """A one-time sign-in link sent to a team's registered address: the store keeps only the
    SHA-256 of its token; it works once (``used_at``) and only until ``expires_at``."""

    __tablename__ = "team_sign_in_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(TEAM), index=True)
    email: Mapped[str] = mapped_column(String(NAME))
    advice_id: Mapped[str | None] = mapped_column(String(ID))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TeamSessionRow(Base):
    """A team member's browser, signed in from a link: scoped to that one team."""

    __tablename__ = "team_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(TEAM), index=True)
    email: Mapped[str] = mapped_column(String(NAME))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AccessLogRow(Base):
    """Every view of a child's record by a team through the portal (managers read it)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    viewer: Mapped[str] = mapped_column(String(NAME))
    team: Mapped[str | None] = mapped_column(String(TEAM))
    case_ref: Mapped[str] = mapped_column(String(CASE_REF), index=True)
    advice_id: Mapped[str | None] = mapped_column(String(ID))
    what: Mapped[str] = mapped_column(String(CODE))


class TeamRow(Base):
    """The team directory: who answers for an agency, and who to escalate to, in order."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(TEAM), primary_key=True)
    agency: Mapped[str] = mapped_column(String(CODE), index=True)
    name: Mapped[str] = mapped_column(String(NAME))
    email: Mapped[str] = mapped_column(String(NAME))
    ladder: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class NotificationRow(Base):
    """The ledger that makes every notice go out once: keyed by (request, sequence, kind)."""

    __tablename__ = "notifications"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    advice_id: Mapped[str] = mapped_column(String(ID), index=True)
    agency: Mapped[str] = mapped_column(String(CODE))
    team: Mapped[str] = mapped_column(String(TEAM))
    kind: Mapped[str] = mapped_column(String(CODE))
    rung: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(NAME))
    channel: Mapped[str] = mapped_column(String(CODE))
    status: Mapped[str] = mapped_column(String(CODE))
    attempts: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[str | None] = mapped_column(String(NAME))
    batch: Mapped[str | None] = mapped_column(String(200), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(CASE_REF))
    due_on: Mapped[date | None]
    first_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SubmissionRow(Base):
    """A team's contribution as submitted, whole or refused (a missing input)."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ux_submissions_advice_id_key", "advice_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    advice_id: Mapped[str] = mapped_column(String(ID), index=True)
    agency: Mapped[str] = mapped_column(String(CODE))
    team: Mapped[str | None] = mapped_column(String(TEAM))
    submitted_on: Mapped[date]
    accepted: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[list[str]] = mapped_column(JSON)
    sections: Mapped[dict[str, Any]] = mapped_column(JSON)
    entered_by: Mapped[str] = mapped_column(String(NAME))
    entered_at: Mapped[datetime]
    # The command's key (advice request and body): a retried submission is stored once.
    key: Mapped[str | None] = mapped_column(String(200))


class IdempotencyKeyRow(Base):
    """Which body an ``Idempotency-Key`` was first sent with, per case and command (the
    request's method and path): the same key with another body is refused, not replayed."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


metadata = Base.metadata
