"""Reads the web pages need beside the queue and the case view: names, search, notes,
who entered what, and teams' submissions. Personal data: for the pages only, never logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.store.tables import CaseRow, ChildRow, SubmissionRow


async def child_names(session: AsyncSession, *, case_refs: Iterable[str]) -> dict[str, str]:
    """The child's full name for each case that has one."""
    refs = list(case_refs)
    if not refs:
        return {}
    rows = await session.execute(
        select(ChildRow.case_ref, ChildRow.given_name, ChildRow.family_name).where(
            ChildRow.case_ref.in_(refs)
        )
    )
    return {ref: f"{given} {family}" for ref, given, family in rows}


@dataclass(frozen=True)
class Found:
    case_ref: str
    name: str | None
    stage: str
    next_due_on: date | None
    breached: bool


async def search_cases(session: AsyncSession, *, text: str, limit: int = 50) -> list[Found]:
    """Cases whose reference or child's name contains ``text`` (case-insensitive)."""
    like = f"%{text.strip().lower()}%"
    full_name = func.lower(ChildRow.given_name + " " + ChildRow.family_name)
    rows = await session.execute(
        select(
            CaseRow.case_ref,
            ChildRow.given_name,
            ChildRow.family_name,
            CaseRow.stage,
            CaseRow.next_due_on,
            CaseRow.breached,
        )
        .outerjoin(ChildRow, ChildRow.case_ref == CaseRow.case_ref)
        .where(or_(func.lower(CaseRow.case_ref).like(like), full_name.like(like)))
        .order_by(CaseRow.case_ref)
        .limit(limit)
    )
    return [
        Found(
            case_ref=ref,
            name=f"{given} {family}" if given else None,
            stage=stage,
            next_due_on=due,
            breached=bool(breached),
        )
        for ref, given, family, stage, due, breached in rows
    ]


async def submission_sections(session: AsyncSession, *, advice_id: str) -> dict[str, Any] | None:
    """The sections of a request's latest submission (what a returned request is edited
    from), or None."""
    row = await session.scalar(
        select(SubmissionRow)
        .where(SubmissionRow.advice_id == advice_id)
        .order_by(SubmissionRow.entered_at.desc(), SubmissionRow.id.desc())
        .limit(1)
    )
    return dict(row.sections) if row is not None else None


async def child_identities(
    session: AsyncSession, *, case_refs: Iterable[str]
) -> dict[str, tuple[str, date]]:
    """The child's full name and date of birth for each case that has one."""
    refs = list(case_refs)
    if not refs:
        return {}
    rows = await session.execute(
        select(
            ChildRow.case_ref, ChildRow.given_name, ChildRow.family_name, ChildRow.date_of_birth
        ).where(ChildRow.case_ref.in_(refs))
    )
    return {ref: (f"{given} {family}", born) for ref, given, family, born in rows}
