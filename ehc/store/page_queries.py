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

from ehc.store.tables import CaseRow, ChildRow, NoteRow, SubmissionRow, UserRow


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


async def user_names(session: AsyncSession, *, ids: Iterable[str]) -> dict[str, str]:
    """Names for the ``entered_by`` values of a trail (user ids as strings)."""
    numbers = {int(i) for i in ids if i.isdigit()}
    if not numbers:
        return {}
    rows = await session.execute(select(UserRow.id, UserRow.name).where(UserRow.id.in_(numbers)))
    return {str(uid): name for uid, name in rows}


async def case_notes(session: AsyncSession, *, case_ref: str) -> dict[str, str]:
    """The case's free-text notes (exception and withdrawal reasons) by update key."""
    rows = await session.execute(
        select(NoteRow.key, NoteRow.text).where(NoteRow.case_ref == case_ref)
    )
    return {key: text for key, text in rows}


async def submissions(
    session: AsyncSession, *, advice_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each advice request's submissions, oldest first."""
    ids = list(advice_ids)
    if not ids:
        return {}
    rows = await session.scalars(
        select(SubmissionRow)
        .where(SubmissionRow.advice_id.in_(ids))
        .order_by(SubmissionRow.entered_at, SubmissionRow.id)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.advice_id, []).append(
            {
                "submitted_on": row.submitted_on,
                "accepted": row.accepted,
                "problems": list(row.problems),
                "sections": sorted(row.sections),
            }
        )
    return found


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
