"""Sending notices to advisers: once each, whatever is retried or restarted.

The ledger (``notifications`` table) is keyed by (advice request, sequence, kind). A notice
already marked sent is never sent again; a failed attempt is counted and retried by
Temporal with backoff (an SMTP outage delays notices, it never loses or doubles them). The
window left is a crash between the mail server accepting a message and the ledger saying
so; the message id is derived from the key so mail clients fold such a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ehc.chasing import NoticeKind
from ehc.directory import Directory, Team
from ehc.logging import get_logger
from ehc.models import ChildDetails, NoticeInput
from ehc.notify.base import Email, EmailSender, PermanentSendError, RetryableSendError
from ehc.notify.render import ChildIdentifiers, redact, render, render_batch
from ehc.notify.routing import recipients
from ehc.store import advice_requests, repository

log = get_logger(__name__)
PERMANENT = PermanentSendError.__name__  # the error type the workflows stop retrying on


RETURN_SEQ_BASE = 1000  # a return notice's sequence is 1000 + the chasing cycle
REASONS_WAIT_SECONDS = 5.0  # the API saves the reasons just after the return is recorded
REASONS_POLL_SECONDS = 0.25


def batch_of(notice: NoticeInput, team_id: str) -> str:
    """Notices for the same recipient (team and ladder rung) on the same day share a batch."""
    return f"{team_id}.r{notice.rung}.{notice.on.isoformat()}"


class NotificationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: EmailSender,
        public_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        open_postbox: Callable[[str], Awaitable[None]] | None = None,
        directory: Directory | None = None,
        reasons_wait_seconds: float = REASONS_WAIT_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.public_url = public_url
        self.clock = clock
        self.open_postbox = open_postbox
        # The agreed templates: the same directory file the API checks submissions against.
        self.directory = directory or Directory()
        self.reasons_wait_seconds = reasons_wait_seconds

    async def _reasons(self, *, key: str, kind: str, case_ref: str, advice_id: str) -> str | None:
        """For a return for quality, the caseworker's reasons, read from the store now (never
        carried through Temporal) with the child's identifiers removed. The API saves them
        a moment after the workflow records the return, so wait for them, boundedly; after
        that the notice goes without them and points at the request."""
        if kind != NoticeKind.RETURNED_FOR_QUALITY.value:
            return None
        try:
            cycle = int(key.split(":")[-2]) - RETURN_SEQ_BASE
        except (IndexError, ValueError):
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reasons_wait_seconds
        while True:
            async with self.sessions() as session:
                text = await advice_requests.return_reasons(
                    session, case_ref=case_ref, advice_id=advice_id, cycle=cycle
                )
                if text is not None:
                    child = await repository.get_child(session, case_ref=case_ref)
                    return redact(text, _identifiers(child))
            if loop.time() >= deadline:
                log.warning("return_reasons_not_found", key=key)
                return None
            await asyncio.sleep(REASONS_POLL_SECONDS)

    async def _team(self, session: AsyncSession, notice: NoticeInput) -> Team:
        """The notice's team; a team missing from the directory is a permanent failure."""
        team = await advice_requests.get_team(session, team_id=notice.team) if notice.team else None
        if team is None:
            raise ApplicationError(
                f"no team {notice.team!r} in the directory",
                type=PERMANENT,
                non_retryable=True,
            )
        return team

    def _ledger_values(self, notice: NoticeInput, team: Team, **extra: Any) -> dict[str, Any]:
        """What the notice's ledger row records about it."""
        to, _ = recipients(team, notice.rung)
        return {
            "advice_id": notice.advice_id,
            "agency": notice.agency.value,
            "team": team.id,
            "kind": notice.kind,
            "rung": notice.rung,
            "recipient": to,
            "channel": self.sender.channel,
            **extra,
        }

    async def _prepare(self, notice: NoticeInput) -> Email | None:
        async with self.sessions() as session, session.begin():
            done = await advice_requests.ledger_entry(session, key=notice.key)
            if done is not None and done.status in ("sent", "failed"):
                return None
            team = await self._team(session, notice)
            await advice_requests.record_attempt(
                session, key=notice.key, now=self.clock(), values=self._ledger_values(notice, team)
            )
        to, cc = recipients(team, notice.rung)
        reasons = await self._reasons(
            key=notice.key,
            kind=notice.kind,
            case_ref=notice.case_ref,
            advice_id=notice.advice_id,
        )
        return render(
            key=notice.key,
            kind=notice.kind,
            case_ref=notice.case_ref,
            advice_id=notice.advice_id,
            agency=notice.agency.value,
            team_name=team.name,
            due_on=notice.due_on,
            to=to,
            cc=cc,
            public_url=self.public_url,
            template=self.directory.template(notice.agency),
            reasons=reasons,
        )

    async def _settle(self, key: str, status: str, provider_id: str | None = None) -> None:
        async with self.sessions() as session, session.begin():
            await advice_requests.settle_notice(
                session, key=key, status=status, provider_id=provider_id, now=self.clock()
            )

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: NoticeInput) -> None:
        email = await self._prepare(notice)
        if email is None:
            return
        try:
            provider_id = await self.sender.send(email)
        except RetryableSendError as exc:
            # Counted durably: the ledger row's attempts (ehc_notice_send_failures_total).
            log.warning("notice_send_failed", key=notice.key, reason=str(exc))
            raise
        except PermanentSendError as exc:
            await self._settle(notice.key, "failed")
            raise ApplicationError(str(exc), type=PERMANENT, non_retryable=True) from exc
        await self._settle(notice.key, "sent", provider_id)
        log.info("notice_sent", key=notice.key, kind=notice.kind, rung=notice.rung)

    @activity.defn(name="queue_notice")
    async def queue_notice(self, notice: NoticeInput) -> None:
        """Put a notice in its recipient's postbox for the day (digests): the postbox sends
        every notice queued for that recipient that day in one message."""
        async with self.sessions() as session, session.begin():
            row = await advice_requests.ledger_entry(session, key=notice.key)
            if row is None:
                team = await self._team(session, notice)
                row = await advice_requests.queue_notice(
                    session,
                    key=notice.key,
                    now=self.clock(),
                    values=self._ledger_values(
                        notice,
                        team,
                        batch=batch_of(notice, notice.team or ""),
                        case_ref=notice.case_ref,
                        due_on=notice.due_on,
                    ),
                )
            batch, queued = row.batch, row.status == "queued"
        if queued and batch and self.open_postbox is not None:
            await self.open_postbox(batch)

    @activity.defn(name="send_batch")
    async def send_batch(self, batch: str) -> None:
        """Send what is queued in ``batch``: one notice as it is, several as one digest."""
        async with self.sessions() as session, session.begin():
            rows = await advice_requests.attempt_batch(session, batch=batch)
            if not rows:
                return
            team = await advice_requests.get_team(session, team_id=rows[0].team)
            if team is None:
                raise ApplicationError("team gone", type=PERMANENT, non_retryable=True)
            items = [
                (r.key, r.kind, r.case_ref or "", r.advice_id, r.agency, r.due_on) for r in rows
            ]
        reasons: dict[str, str] = {}
        for key, kind, case_ref, advice_id, _agency, _due in items:
            text = await self._reasons(key=key, kind=kind, case_ref=case_ref, advice_id=advice_id)
            if text:
                reasons[key] = text
        email = render_batch(
            items,
            team,
            rows[0].rung,
            self.public_url,
            batch,
            self.directory.template(team.agency),
            reasons,
        )
        try:
            provider_id = await self.sender.send(email)
        except RetryableSendError as exc:
            log.warning("batch_send_failed", batch=batch, reason=str(exc))
            raise
        except PermanentSendError as exc:
            await self._settle_batch([r.key for r in rows], "failed", None)
            raise ApplicationError(str(exc), type=PERMANENT, non_retryable=True) from exc
        await self._settle_batch([r.key for r in rows], "sent", provider_id)
        log.info("batch_sent", batch=batch, notices=len(rows))

    async def _settle_batch(self, keys: list[str], status: str, provider_id: str | None) -> None:
        for key in keys:
            await self._settle(key, status, provider_id)


def _identifiers(child: ChildDetails | None) -> ChildIdentifiers:
    """What to remove from free text: the child's names, date of birth and any other
    identifier stored with them (UPN, NHS number, postcode)."""
    if child is None:
        return ChildIdentifiers()
    extra = child.model_extra or {}
    other = tuple(v for v in extra.values() if isinstance(v, str) and len(v) >= 4)
    return ChildIdentifiers(
        given_name=child.given_name,
        family_name=child.family_name,
        date_of_birth=child.date_of_birth,
        other=other,
    )
