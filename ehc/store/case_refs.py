"""Case references are matched without regard to letter case: ``ehc-1`` and ``EHC-1`` are
one reference, so a second case cannot be opened under a variant of the first's (the
child's insert refuses it: ``repository.save_child(..., unless_letter_case_variant=True)``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.store.tables import ChildRow


async def stored_ref(session: AsyncSession, *, case_ref: str) -> str | None:
    """The reference as stored that equals ``case_ref`` whatever the letter case, if any."""
    found = await session.scalar(
        select(ChildRow.case_ref).where(func.lower(ChildRow.case_ref) == case_ref.lower()).limit(1)
    )
    return found
