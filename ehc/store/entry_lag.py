"""The data-entry lag histogram, kept incrementally as events are written.

For each event a person entered (``ENTERED_EVENT_KINDS``), its lag is the whole days from
the date the thing happened (``occurred_on``) to the day it was entered, in England
(``entered_at`` as ``ehc.statutory.london_date``); a negative lag (clock skew) counts as
0. The events table only grows, so the counts only grow: every writer of events calls
``count_entered_events`` in the same transaction as its insert (``entry_lag_counts``),
and ``/metrics`` reads that small table instead of scanning every event.
``ehc.store.metrics_queries.recount_entry_lag_days`` recounts from the events themselves
(tests hold the two equal; migration 0011 backfilled the table).

Only bounded codes and counts are stored: no case reference, no date of an event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.statutory import london_date
from ehc.store.tables import EntryLagCountRow

# Events a person enters, dated with when the thing happened. The system's own events
# (limit_breached, limit_exception, breach_corrected) and exception_recorded (dated with
# the start of the circumstance, often long before it is recorded) are not data entry.
ENTERED_EVENT_KINDS: tuple[str, ...] = (
    "request_received",
    "decision_to_assess",
    "advice_requested",
    "advice_received",
    "decision_to_issue",
    "draft_plan_served",
    "final_plan_issued",
    "withdrawn",
)


def lag_days(occurred_on: date, entered_at: datetime) -> int:
    """Whole days from ``occurred_on`` to the England date of ``entered_at``; never < 0."""
    return max((london_date(entered_at) - occurred_on).days, 0)


def lag_counts(events: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, int]]:
    """(kind, lag in days) -> how many, of the entered events among ``events`` (rows as
    the events table takes them: ``kind``, ``occurred_on``, ``entered_at``)."""
    return Counter(
        (e["kind"], lag_days(e["occurred_on"], e["entered_at"]))
        for e in events
        if e["kind"] in ENTERED_EVENT_KINDS
    )


def lag_rows(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``entry_lag_counts`` rows to add for ``events``, in key order (so concurrent
    writers take the counters' row locks in the same order and cannot deadlock)."""
    return [
        {"kind": kind, "lag_days": lag, "events": n}
        for (kind, lag), n in sorted(lag_counts(events).items())
    ]


async def count_entered_events(session: AsyncSession, events: Iterable[Mapping[str, Any]]) -> None:
    """Add ``events`` (just inserted, in this transaction) to the lag counts.

    Rows are upserted in key order (``lag_rows``).
    """
    rows = lag_rows(events)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = pg_insert(EntryLagCountRow)
        stmt: Any = pg.on_conflict_do_update(
            index_elements=["kind", "lag_days"],
            set_={"events": EntryLagCountRow.events + pg.excluded.events},
        )
    elif dialect == "sqlite":
        lite = sqlite_insert(EntryLagCountRow)
        stmt = lite.on_conflict_do_update(
            index_elements=["kind", "lag_days"],
            set_={"events": EntryLagCountRow.events + lite.excluded.events},
        )
    else:
        raise NotImplementedError(f"the case store does not support {dialect}")
    await session.execute(stmt, rows)


async def entry_lag_days(session: AsyncSession) -> dict[str, dict[int, int]]:
    """How many entered events had each lag in whole days, by event kind (every kind of
    ``ENTERED_EVENT_KINDS`` present, empty when none): a cumulative histogram."""
    rows = await session.execute(
        select(EntryLagCountRow.kind, EntryLagCountRow.lag_days, EntryLagCountRow.events)
    )
    result: dict[str, dict[int, int]] = {kind: {} for kind in ENTERED_EVENT_KINDS}
    for kind, days, n in rows:
        result.setdefault(kind, {})[int(days)] = int(n)
    return result
