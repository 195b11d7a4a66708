"""The caseworker's case view: the workflow's (or store's) ``CaseView`` with what only the
store holds beside each entry: the reasons typed, each advice request's submissions, and
who entered what by name. It also marks the events a correction or reopening replaced.

Works on any ``CaseView``, whether it came from the workflow or was built from the store.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas import CaseResponse, SubmissionOut
from ehc.corrections import CORRECTED, REOPENED
from ehc.models import CaseView, ChildDetails
from ehc.store import advice_requests, repository
from ehc.store.case_reads import Projection


def _user_id(entered_by: str) -> int | None:
    return int(entered_by) if entered_by.isdigit() else None


def superseded(view: CaseView) -> dict[int, int]:
    """Event seq -> the seq of the later correction or reopening that replaced it."""
    replaced: dict[int, int] = {}
    latest: dict[int, int] = {}  # target seq -> its latest correction
    for event in view.events:
        if event.kind == CORRECTED:
            target = int(event.detail["corrects"])
            if target in latest:
                replaced[latest[target]] = event.seq
            replaced[target] = event.seq
            latest[target] = event.seq
        elif event.kind == REOPENED:
            replaced[int(event.detail["undoes"])] = event.seq
    return replaced


async def case_response(
    session: AsyncSession,
    view: CaseView,
    *,
    child: ChildDetails | None = None,
    warnings: list[str] | None = None,
    projection: Projection | None = None,
) -> CaseResponse:
    """``view`` with notes, submissions, names and supersession filled in from the store."""
    notes = await repository.case_notes(session, case_ref=view.case_ref)
    rows = await advice_requests.submissions_for(
        session, advice_ids=[a.id for a in view.advice_requests]
    )
    submissions = [
        {
            c: getattr(row, c)
            for c in (*SubmissionOut.model_fields, "advice_id")
            if c != "entered_by_name"
        }
        for row in rows
    ]
    ids = {_user_id(e.entered_by) for e in view.events}
    ids |= {_user_id(e.entered_by) for e in view.exceptions}
    ids |= {_user_id(str(s["entered_by"])) for s in submissions}
    names = await repository.user_names(session, ids=sorted(i for i in ids if i is not None))
    await session.rollback()

    def name(entered_by: str) -> str | None:
        user_id = _user_id(entered_by)
        if user_id is None:
            return entered_by or None
        return names.get(user_id)

    replaced = superseded(view)
    exception_notes: dict[str, str] = {}
    events = []
    for event in view.events:
        note = notes.get(event.detail.get("update_id", ""))
        if note is not None and "exception_id" in event.detail:
            exception_notes[event.detail["exception_id"]] = note
        events.append(
            {
                **event.model_dump(),
                "entered_by_name": name(event.entered_by),
                "note": note,
                "superseded_by": replaced.get(event.seq),
            }
        )
    by_request: dict[str, list[dict[str, object]]] = {}
    for sub in submissions:
        advice_id = str(sub.pop("advice_id"))
        sub["entered_by_name"] = name(str(sub["entered_by"]))
        by_request.setdefault(advice_id, []).append(sub)
    data = view.model_dump()
    data["events"] = events
    data["exceptions"] = [
        {
            **e.model_dump(),
            "entered_by_name": name(e.entered_by),
            "reason": exception_notes.get(e.id),
        }
        for e in view.exceptions
    ]
    data["advice_requests"] = [
        {**a.model_dump(), "submissions": by_request.get(a.id, [])} for a in view.advice_requests
    ]
    return CaseResponse.model_validate(
        {**data, "child": child, "warnings": warnings or [], "projection": projection}
    )
