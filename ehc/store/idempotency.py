"""Idempotency-Key records: which body a key was first sent with, per case and command.

``claim`` is race-safe (``INSERT ... ON CONFLICT DO NOTHING`` on both dialects): of ten
parallel requests with one key and ten bodies, one claims the key and nine see it reused.
Nothing here logs, and only a hash of the body is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.store.tables import IdempotencyKeyRow

Claim = Literal["new", "same", "reused"]


async def claim(
    session: AsyncSession, *, scope: str, key: str, body_hash: str, now: datetime
) -> Claim:
    """``new`` if this request is the key's first, ``same`` if the key was sent before with
    this body, ``reused`` if it was sent before with another body. The caller commits."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(IdempotencyKeyRow)
        .values(scope=scope, key=key, body_hash=body_hash, created_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKeyRow.key)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is not None:
        return "new"
    existing = await session.scalar(
        select(IdempotencyKeyRow.body_hash).where(
            IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key
        )
    )
    return "same" if existing == body_hash else "reused"


async def release(session: AsyncSession, *, scope: str, key: str, body_hash: str) -> None:
    """Forget a claim whose request recorded nothing (it was refused): the key is free for
    a corrected body. The caller commits."""
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.scope == scope,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.body_hash == body_hash,
        )
    )
