"""Store records for the reports' unit tests, built without a store."""

from __future__ import annotations

from datetime import date, timedelta

from ehc.measures import RecordedException
from ehc.store.report_queries import CaseRecord, EventRecord


def case_record(
    ref: str,
    day0: date,
    *events: tuple[str, int, dict[str, str]],
    exceptions: tuple[str, ...] = (),
) -> CaseRecord:
    """A case received on ``day0`` with events ``(kind, days after Day 0, detail)`` and
    accepted exceptions on its 20-week limit (dated Day 0) with the ids ``exceptions``."""
    return CaseRecord(
        case_ref=ref,
        stage="x",
        received_on=day0,
        anchor="request",
        events=tuple(
            EventRecord(i + 2, kind, day0 + timedelta(days=d), detail)
            for i, (kind, d, detail) in enumerate(events)
        ),
        final_plan_exceptions=tuple(
            RecordedException(e, "personal_circumstances", day0, excuses=True) for e in exceptions
        ),
    )
