"""A new case's first rows in one PostgreSQL statement (issue 14: a start close to the
engine's limit).

Opening a case writes six tables: the child, the case, its limits and events, the
entry-lag counts and the pending start. Step by step that is eight round trips to the
database (``BEGIN``, six inserts, ``COMMIT``), and on a busy API each round trip costs CPU
on both sides. Here it is one: data-modifying common table expressions, each fed one JSON
parameter that ``json_populate_record(set)`` turns into rows of its table. A statement is
its own transaction in autocommit, so the rows are all written or none.

The statement's text depends only on which columns the rows carry (always the same for a
start), so SQLAlchemy compiles it once and asyncpg prepares it once per connection.
``ehc.store.repository.open_new_case`` calls this on PostgreSQL and writes step by step on
SQLite; a test holds the two to the same rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from ehc.store.db import read_outside_a_transaction
from ehc.store.tables import metadata

Row = Mapping[str, Any]
Columns = tuple[str, ...]
_ONE, _MANY = "json_populate_record", "json_populate_recordset"


def _table(name: str) -> Table:
    return metadata.tables[name]


def _insert(table: str, columns: Columns, rows_from: str, *, param: str, where: str) -> str:
    """``INSERT INTO table (columns) SELECT columns FROM <rows of the JSON parameter>``;
    only the table's own column names ever reach the text."""
    known = _table(table).c
    if unknown := [c for c in columns if c not in known]:
        raise ValueError(f"{table} has no column {unknown[0]!r}")
    names = ", ".join(f'"{c}"' for c in columns)
    rows = f"{rows_from}(NULL::{table}, CAST(:{param} AS json))"
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM {rows} WHERE {where}"  # noqa: S608


_REF_FREE = (
    "NOT EXISTS (SELECT FROM children AS taken "
    "WHERE lower(taken.case_ref) = lower(CAST(:ref AS text)) AND taken.case_ref <> :ref)"
)
_CHILD_NEW = "EXISTS (SELECT FROM new_child)"
_CASE_NEW = "EXISTS (SELECT FROM new_case)"
_LAG_COLUMNS = ("kind", "lag_days", "events")


@functools.cache
def statement(
    child: Columns, case: Columns, limits: Columns, events: Columns, pending: Columns
) -> TextClause:
    """The one statement, for rows with these columns (each shape is compiled once): the
    child unless its reference is taken (exactly, or in other letter case), then the rest
    only if the child and the case row were new. It returns the reference if the child
    was written, no row if nothing was."""
    parts = {
        "new_child": _insert("children", child, _ONE, param="child", where=_REF_FREE)
        + " ON CONFLICT (case_ref) DO NOTHING RETURNING case_ref",
        "new_case": _insert("cases", case, _ONE, param="case", where=_CHILD_NEW)
        + " ON CONFLICT (case_ref) DO NOTHING RETURNING case_ref",
        "new_limits": _insert("limits", limits, _MANY, param="limits", where=_CASE_NEW),
        "new_events": _insert("events", events, _MANY, param="events", where=_CASE_NEW),
        "new_lag": _insert("entry_lag_counts", _LAG_COLUMNS, _MANY, param="lag", where=_CASE_NEW)
        + " ON CONFLICT (kind, lag_days) DO UPDATE"
        " SET events = entry_lag_counts.events + excluded.events",
        "new_pending": _insert("pending_starts", pending, _ONE, param="pending", where=_CASE_NEW)
        + " ON CONFLICT (case_ref) DO NOTHING",
    }
    ctes = ", ".join(f"{name} AS ({sql})" for name, sql in parts.items())
    return text(f"WITH {ctes} SELECT case_ref FROM new_child")  # noqa: S608 (built above)


def _shape(rows: Sequence[Row], table: str) -> Columns:
    """The columns ``rows`` write (the table's when there are none: nothing is written)."""
    return tuple(rows[0]) if rows else tuple(_table(table).c.keys())


def _json(value: Any) -> str:
    return to_json(value).decode()


async def open_case_rows(
    session: AsyncSession,
    *,
    child: Row,
    case: Row,
    limits: Sequence[Row],
    events: Sequence[Row],
    lag: Sequence[Row],
    pending: Row,
) -> bool:
    """Write a new case's rows in one statement; True if the child was new (and so the
    rest written), False if nothing was written. With no transaction open in ``session``
    the statement commits itself (autocommit); else it is part of that transaction."""
    if not session.in_transaction():
        await read_outside_a_transaction(session)
    shape = statement(
        tuple(child),
        tuple(case),
        _shape(limits, "limits"),
        _shape(events, "events"),
        tuple(pending),
    )
    created = await session.scalar(
        shape,
        {
            "ref": case["case_ref"],
            "child": _json(child),
            "case": _json(case),
            "limits": _json(limits),
            "events": _json(events),
            "lag": _json(lag),
            "pending": _json(pending),
        },
    )
    return created is not None
