"""Staff sign-in for the web pages: passwords, lockout and server-side sessions.

Bearer tokens (``repository.user_by_token``) are untouched: scripts keep using them. A
browser session's cookie holds a random id; the store keeps only its SHA-256 and the
session's CSRF token, so signing out (deleting the row) ends the session at once.
Like ``repository``, nothing here commits except where it says so, and nothing logs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.models import User
from ehc.passwords import DUMMY_HASH, hash_password, verify_password
from ehc.store.tables import UserRow, WebSessionRow

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=10)


@dataclass(frozen=True)
class SignedIn:
    user: User
    cookie: str
    csrf_token: str


SignInOutcome = SignedIn | Literal["wrong", "locked"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User.model_validate({"id": row.id, "name": row.name, "role": row.role, "team": row.team})


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def set_password(session: AsyncSession, *, user_id: int, email: str, password: str) -> None:
    """Give a user an email and password to sign in with (and clear any lockout); commits."""
    await session.execute(
        update(UserRow)
        .where(UserRow.id == user_id)
        .values(
            email=normalise_email(email),
            password_hash=hash_password(password),
            failed_attempts=0,
            locked_until=None,
        )
    )
    await session.commit()


async def user_by_email(session: AsyncSession, *, email: str) -> User | None:
    row = await session.scalar(select(UserRow).where(UserRow.email == normalise_email(email)))
    return _user(row) if row is not None else None


async def sign_in(
    session: AsyncSession, *, email: str, password: str, now: datetime
) -> SignInOutcome:
    """Check an email and password and open a session; commits.

    After ``MAX_FAILED_ATTEMPTS`` wrong passwords in a row the account is locked for
    ``LOCKOUT``: even the right password is refused until then. The answer never says
    whether the email exists.
    """
    row = await session.scalar(select(UserRow).where(UserRow.email == normalise_email(email)))
    if row is None or row.password_hash is None:
        verify_password(DUMMY_HASH, password)
        return "wrong"
    if row.locked_until is not None and row.locked_until > now:
        return "locked"
    if not verify_password(row.password_hash, password):
        attempts = row.failed_attempts + 1
        locked = attempts >= MAX_FAILED_ATTEMPTS
        row.failed_attempts = 0 if locked else attempts
        row.locked_until = now + LOCKOUT if locked else None
        await session.commit()
        return "locked" if locked else "wrong"
    row.failed_attempts = 0
    row.locked_until = None
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSessionRow(
            id_hash=_hash(cookie),
            user_id=row.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    user = _user(row)
    await session.commit()
    return SignedIn(user=user, cookie=cookie, csrf_token=csrf)


async def session_user(
    session: AsyncSession, *, cookie: str, now: datetime
) -> tuple[User, str] | None:
    """The signed-in user and the session's CSRF token, or None (unknown or expired)."""
    if not cookie:
        return None
    found = (
        await session.execute(
            select(UserRow, WebSessionRow.csrf_token)
            .join(WebSessionRow, WebSessionRow.user_id == UserRow.id)
            .where(WebSessionRow.id_hash == _hash(cookie), WebSessionRow.expires_at > now)
        )
    ).one_or_none()
    if found is None:
        return None
    return _user(found[0]), found[1]


async def sign_out(session: AsyncSession, *, cookie: str, now: datetime) -> None:
    """End this session, and sweep expired ones; commits."""
    await session.execute(
        delete(WebSessionRow).where(
            or_(WebSessionRow.id_hash == _hash(cookie), WebSessionRow.expires_at <= now)
        )
    )
    await session.commit()
