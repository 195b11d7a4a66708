"""Store access for chasing advice: teams, the notification ledger, team submissions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.directory import Rung, Team
from ehc.models import AdviceRequestRecord, EventKind, LedgerEntry
from ehc.statutory import Agency
from ehc.store.tables import (
    AdviceRequestRow,
    EventRow,
    NoteRow,
    NotificationRow,
    SubmissionRow,
    TeamRow,
)


def _team(row: TeamRow) -> Team:
    return Team(
        id=row.id,
        agency=Agency(row.agency),
        name=row.name,
        email=row.email,
        ladder=[Rung.model_validate(r) for r in row.ladder],
    )


async def list_teams(session: AsyncSession) -> list[Team]:
    rows = await session.scalars(select(TeamRow).order_by(TeamRow.agency, TeamRow.id))
    return [_team(r) for r in rows]


async def get_team(session: AsyncSession, *, team_id: str) -> Team | None:
    row = await session.get(TeamRow, team_id)
    return _team(row) if row else None


async def save_team(session: AsyncSession, team: Team) -> None:
    """Insert or replace one team (the caller commits)."""
    row = await session.get(TeamRow, team.id)
    values = {
        "agency": team.agency.value,
        "name": team.name,
        "email": str(team.email),
        "ladder": [r.model_dump(mode="json") for r in team.ladder],
    }
    if row is None:
        session.add(TeamRow(id=team.id, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def _entry(row: NotificationRow) -> LedgerEntry:
    return LedgerEntry.model_validate(row, from_attributes=True)


async def ledger_entry(session: AsyncSession, *, key: str) -> LedgerEntry | None:
    """The ledger's entry for the notice ``key``, if it was ever tried or queued."""
    row = await session.get(NotificationRow, key)
    return None if row is None else _entry(row)


async def record_attempt(
    session: AsyncSession, *, key: str, values: dict[str, Any], now: datetime
) -> NotificationRow:
    """The ledger row for ``key``, created on the first attempt; counts every attempt."""
    row = await session.get(NotificationRow, key)
    if row is None:
        row = NotificationRow(key=key, status="sending", attempts=0, first_attempt_at=now, **values)
        session.add(row)
    row.attempts += 1
    return row


async def queue_notice(
    session: AsyncSession, *, key: str, values: dict[str, Any], now: datetime
) -> LedgerEntry:
    """The ledger row for a notice put in its recipient's postbox: queued, not yet tried
    (the postbox counts the attempts when it sends)."""
    row = await record_attempt(session, key=key, values=values, now=now)
    row.status = "queued"
    row.attempts = 0
    return _entry(row)


async def settle_notice(
    session: AsyncSession, *, key: str, status: str, provider_id: str | None, now: datetime
) -> None:
    """Record how a notice's send ended: ``sent`` (with the provider's id) or ``failed``."""
    row = await session.get(NotificationRow, key)
    if row is not None:
        row.status = status
        row.provider_id = provider_id
        row.sent_at = now if status == "sent" else None


async def list_notices(session: AsyncSession, *, advice_id: str) -> list[NotificationRow]:
    rows = await session.scalars(
        select(NotificationRow)
        .where(NotificationRow.advice_id == advice_id)
        .order_by(NotificationRow.first_attempt_at, NotificationRow.key)
    )
    return list(rows)


def _team_filter(team: str, *, open_only: bool) -> list[ColumnElement[bool]]:
    """Which requests are a team's list: its own, open ones only unless asked otherwise
    (team, outcome, due_on: the index ``ix_advice_requests_team_outcome_due_on``)."""
    where = [AdviceRequestRow.team == team]
    if open_only:
        where.append(AdviceRequestRow.outcome.in_(OPEN_OUTCOMES))
    return where


def _team_list(team: str, *, open_only: bool) -> Select[AdviceRequestRow]:
    """A team's requests, soonest due first (ties by id, so every page is stable)."""
    return (
        select(AdviceRequestRow)
        .where(*_team_filter(team, open_only=open_only))
        .order_by(AdviceRequestRow.due_on, AdviceRequestRow.id)
    )


async def team_requests(
    session: AsyncSession, *, team: str, open_only: bool = True
) -> list[AdviceRequestRecord]:
    rows = await session.scalars(_team_list(team, open_only=open_only))
    return [_record(row) for row in rows]


@dataclass(frozen=True)
class TeamPage:
    """One page of a team's open requests and how many the team has in all."""

    requests: list[AdviceRequestRecord]
    total: int
    page: int
    per_page: int

    @property
    def last_page(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.requests else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.requests) - 1 if self.requests else 0


async def team_requests_page(
    session: AsyncSession, *, team: str, page: int, per_page: int = 50
) -> TeamPage:
    """Page ``page`` (1-based) of a team's open requests, soonest due first. A page past
    the last has no requests (and is not read: its offset may be any size)."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page count from 1")
    where = _team_filter(team, open_only=True)
    total = await session.scalar(select(func.count()).select_from(AdviceRequestRow).where(*where))
    offset = (page - 1) * per_page
    records: list[AdviceRequestRecord] = []
    if offset < (total or 0):
        rows = await session.scalars(
            _team_list(team, open_only=True).limit(per_page).offset(offset)
        )
        records = [_record(row) for row in rows]
    return TeamPage(requests=records, total=total or 0, page=page, per_page=per_page)


def _record(row: AdviceRequestRow) -> AdviceRequestRecord:
    return AdviceRequestRecord.model_validate(row, from_attributes=True)


async def advice_request(session: AsyncSession, *, advice_id: str) -> AdviceRequestRecord | None:
    row = await session.get(AdviceRequestRow, advice_id)
    return None if row is None else _record(row)


async def refuse_submission(session: AsyncSession, *, submission_id: int, reason: str) -> None:
    """The case refused a submission the template accepted: record why (caller commits)."""
    row = await session.get(SubmissionRow, submission_id)
    if row is not None:
        row.accepted = False
        row.problems = [*row.problems, reason]


async def save_submission(
    session: AsyncSession,
    *,
    advice_id: str,
    agency: str,
    team: str | None,
    submitted_on: date,
    accepted: bool,
    problems: list[str],
    sections: dict[str, Any],
    entered_by: str,
    entered_at: datetime,
    key: str | None = None,
) -> int:
    """Store a submission and return its id. With ``key`` (the command's key: the advice
    request and the body) a retried submission is stored once: the first row's id comes
    back and nothing is added."""
    if key is not None:
        existing = await session.scalar(
            select(SubmissionRow.id).where(
                SubmissionRow.advice_id == advice_id, SubmissionRow.key == key
            )
        )
        if existing is not None:
            return existing
    row = SubmissionRow(
        advice_id=advice_id,
        agency=agency,
        team=team,
        submitted_on=submitted_on,
        accepted=accepted,
        problems=problems,
        sections=sections,
        entered_by=entered_by,
        entered_at=entered_at,
        key=key,
    )
    session.add(row)
    await session.flush()
    return row.id


async def attempt_batch(session: AsyncSession, *, batch: str) -> list[LedgerEntry]:
    """The notices ``queued`` in ``batch``, with this send attempt counted on each."""
    rows = await queued(session, batch=batch)
    for row in rows:
        row.attempts += 1
    return [_entry(row) for row in rows]


async def queued(session: AsyncSession, *, batch: str) -> list[NotificationRow]:
    """Notices queued in ``batch`` and any earlier day's batch for the same recipient that
    is still unsent (after a mail outage they go together, in order, not out of order)."""
    recipient = batch.rsplit(".", 1)[0] + "."
    rows = await session.scalars(
        select(NotificationRow)
        .where(
            NotificationRow.batch.startswith(recipient, autoescape=True),
            NotificationRow.batch <= batch,
            NotificationRow.status == "queued",
        )
        .order_by(NotificationRow.batch, NotificationRow.first_attempt_at, NotificationRow.key)
    )
    return list(rows)


RETURN_EVENT = EventKind.ADVICE_RETURNED_FOR_QUALITY


async def return_reasons(
    session: AsyncSession, *, case_ref: str, advice_id: str, cycle: int
) -> str | None:
    """The caseworker's reasons for the ``cycle``-th return for quality of a request (1 for
    the first), or ``None`` while the store does not hold them yet. The audit trail's return
    events, in order, name the update that recorded each; its note holds the reasons."""
    details = await session.scalars(
        select(EventRow.detail)
        .where(EventRow.case_ref == case_ref, EventRow.kind == RETURN_EVENT)
        .order_by(EventRow.seq)
    )
    returns = [d for d in details if d.get("advice_id") == advice_id]
    if cycle < 1 or len(returns) < cycle or not returns[cycle - 1].get("update_id"):
        return None
    key = str(returns[cycle - 1]["update_id"])
    return await session.scalar(
        select(NoteRow.text).where(NoteRow.case_ref == case_ref, NoteRow.key == key)
    )


OPEN_OUTCOMES = ("outstanding", "returned_for_quality")
RECEIVED_OUTCOMES = ("received", "not_known_to_service")
AdviceListStatus = Literal["pending", "overdue", "received"]


async def staff_requests(
    session: AsyncSession,
    *,
    today: date,
    agency: str | None = None,
    team: str | None = None,
    status: AdviceListStatus | None = None,
    due_within_days: int | None = None,
    limit: int = 200,
) -> list[AdviceRequestRecord]:
    """Advice requests across teams for caseworkers and managers, soonest due first.

    ``pending``: open and not yet due; ``overdue``: open past its due date; ``received``:
    received or a nil return. With no status, every open request (pending and overdue).
    Requests closed as withdrawn or ``case_moved_on`` are never listed as open.
    """
    query = select(AdviceRequestRow)
    if agency is not None:
        query = query.where(AdviceRequestRow.agency == agency)
    if team is not None:
        query = query.where(AdviceRequestRow.team == team)
    if status == "received":
        query = query.where(AdviceRequestRow.outcome.in_(RECEIVED_OUTCOMES))
    else:
        query = query.where(AdviceRequestRow.outcome.in_(OPEN_OUTCOMES))
        if status == "pending":
            query = query.where(AdviceRequestRow.due_on >= today)
        elif status == "overdue":
            query = query.where(AdviceRequestRow.due_on < today)
    if due_within_days is not None:
        query = query.where(AdviceRequestRow.due_on <= today + timedelta(days=due_within_days))
    rows = await session.scalars(
        query.order_by(AdviceRequestRow.due_on, AdviceRequestRow.id).limit(limit)
    )
    return [_record(row) for row in rows]


async def submissions_for(
    session: AsyncSession, *, advice_ids: Sequence[str]
) -> list[SubmissionRow]:
    """Every submission of these requests, oldest first (earlier returned versions too)."""
    if not advice_ids:
        return []
    rows = await session.scalars(
        select(SubmissionRow)
        .where(SubmissionRow.advice_id.in_(advice_ids))
        .order_by(SubmissionRow.entered_at, SubmissionRow.id)
    )
    return list(rows)
