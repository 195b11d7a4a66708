"""Store access for the team portal: one-time sign-in links, team sessions, access log.

A link's token and a session's cookie are random; the store keeps only their SHA-256.
A link works once and for ``LINK_LIFETIME``; a session is scoped to one team. Nothing here
logs, and nothing commits except where it says so.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.directory import Team
from ehc.store.tables import AccessLogRow, TeamSessionRow, TeamSignInLinkRow

LINK_LIFETIME = timedelta(minutes=30)
MAX_LINKS_PER_LIFETIME = 5  # per address: asking again and again does not flood an inbox
SESSION_LIFETIME = timedelta(hours=8)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def registered(team: Team, email: str) -> bool:
    """Is ``email`` one of the team's registered addresses (its own, or its ladder's)?"""
    wanted = email.strip().lower()
    return any(str(a).lower() == wanted for a in (team.email, *(r.email for r in team.ladder)))


@dataclass(frozen=True)
class TeamSignedIn:
    team: str
    email: str
    cookie: str
    advice_id: str | None


@dataclass(frozen=True)
class TeamMember:
    team: str
    email: str
    csrf_token: str


async def create_link(
    session: AsyncSession, *, team: str, email: str, advice_id: str | None, now: datetime
) -> str:
    """A new one-time link's token (only its hash is stored); commits."""
    token = secrets.token_urlsafe(32)
    session.add(
        TeamSignInLinkRow(
            token_hash=_hash(token),
            team=team,
            email=email.strip().lower(),
            advice_id=advice_id,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    await session.commit()
    return token


async def may_send_link(session: AsyncSession, *, email: str, now: datetime) -> bool:
    """Fewer than ``MAX_LINKS_PER_LIFETIME`` links sent to this address lately."""
    sent = await session.scalar(
        select(func.count()).where(
            TeamSignInLinkRow.email == email.strip().lower(),
            TeamSignInLinkRow.created_at > now - LINK_LIFETIME,
        )
    )
    return int(sent or 0) < MAX_LINKS_PER_LIFETIME


async def redeem_link(session: AsyncSession, *, token: str, now: datetime) -> TeamSignedIn | None:
    """Use a link once: a new team session, or None (unknown, used or expired); commits."""
    if not token:
        return None
    used = await session.execute(
        update(TeamSignInLinkRow)
        .where(
            TeamSignInLinkRow.token_hash == _hash(token),
            TeamSignInLinkRow.used_at.is_(None),
            TeamSignInLinkRow.expires_at > now,
        )
        .values(used_at=now)
        .returning(TeamSignInLinkRow.team, TeamSignInLinkRow.email, TeamSignInLinkRow.advice_id)
    )
    found = used.one_or_none()
    if found is None:
        await session.rollback()
        return None
    team, email, advice_id = found
    cookie = secrets.token_urlsafe(32)
    session.add(
        TeamSessionRow(
            id_hash=_hash(cookie),
            team=team,
            email=email,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.commit()
    return TeamSignedIn(team=team, email=email, cookie=cookie, advice_id=advice_id)


async def team_member(session: AsyncSession, *, cookie: str, now: datetime) -> TeamMember | None:
    if not cookie:
        return None
    row = await session.scalar(
        select(TeamSessionRow).where(
            TeamSessionRow.id_hash == _hash(cookie), TeamSessionRow.expires_at > now
        )
    )
    if row is None:
        return None
    return TeamMember(team=row.team, email=row.email, csrf_token=row.csrf_token)


async def sign_out(session: AsyncSession, *, cookie: str, now: datetime) -> None:
    """End this team session and sweep expired sessions and links; commits."""
    await session.execute(
        delete(TeamSessionRow).where(
            (TeamSessionRow.id_hash == _hash(cookie)) | (TeamSessionRow.expires_at <= now)
        )
    )
    await session.execute(delete(TeamSignInLinkRow).where(TeamSignInLinkRow.expires_at <= now))
    await session.commit()


async def log_access(
    session: AsyncSession,
    *,
    at: datetime,
    viewer: str,
    team: str | None,
    case_ref: str,
    advice_id: str | None,
    what: str,
) -> None:
    """Record one view of a child's record (the caller commits)."""
    session.add(
        AccessLogRow(
            at=at, viewer=viewer, team=team, case_ref=case_ref, advice_id=advice_id, what=what
        )
    )


async def access_log(session: AsyncSession, *, limit: int = 500) -> list[AccessLogRow]:
    rows = await session.scalars(select(AccessLogRow).order_by(AccessLogRow.id.desc()).limit(limit))
    return list(rows)
