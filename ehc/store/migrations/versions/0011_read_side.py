"""The read side at 100,000 cases: the data-entry lag counts kept as events are written,
and the indexes of the manager's and the advice list's reads.

``entry_lag_counts`` holds, per entered event kind and lag in whole days, how many events
had that lag (``ehc.store.entry_lag``); the ``/metrics`` scrape reads it instead of every
event. It is backfilled here from the events already stored: on PostgreSQL in SQL with the
tz database, on SQLite (small, local stores) in Python with ``ehc.statutory``'s rule.

Indexes (plans in docs/performance.md): breached limits counted by limit from
``(status, statutory, limit)`` alone; a team's open advice requests from
``(team, outcome, due_on)``; events of a kind in a date range from
``(kind, occurred_on, case_ref)``, which replaces ``ix_events_kind``.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from ehc.statutory import london_date

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ehc.store.entry_lag.ENTERED_EVENT_KINDS when this revision was written.
ENTERED = (
    "request_received",
    "decision_to_assess",
    "advice_requested",
    "advice_received",
    "decision_to_issue",
    "draft_plan_served",
    "final_plan_issued",
    "withdrawn",
)

counts = sa.table(
    "entry_lag_counts",
    sa.column("kind", sa.String()),
    sa.column("lag_days", sa.Integer()),
    sa.column("events", sa.Integer()),
)
events = sa.table(
    "events",
    sa.column("kind", sa.String()),
    sa.column("occurred_on", sa.Date()),
    sa.column("entered_at", sa.DateTime(timezone=True)),
)


def _backfill_postgresql(bind: sa.Connection) -> None:
    bind.execute(
        sa.text(
            "INSERT INTO entry_lag_counts (kind, lag_days, events) "
            "SELECT kind, lag, count(*) FROM ("
            "  SELECT kind, GREATEST("
            "    CAST(timezone('Europe/London', entered_at) AS date) - occurred_on, 0) AS lag"
            "  FROM events WHERE kind = ANY(:kinds)) AS lags "
            "GROUP BY kind, lag"
        ),
        {"kinds": list(ENTERED)},
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _backfill_in_python(bind: sa.Connection) -> None:
    tally: Counter[tuple[str, int]] = Counter()
    rows = bind.execute(
        sa.select(events.c.kind, events.c.occurred_on, events.c.entered_at).where(
            events.c.kind.in_(ENTERED)
        )
    )
    for kind, occurred_on, entered_at in rows:
        on = occurred_on if isinstance(occurred_on, date) else date.fromisoformat(occurred_on)
        at = entered_at if isinstance(entered_at, datetime) else datetime.fromisoformat(entered_at)
        tally[(kind, max((london_date(_utc(at)) - on).days, 0))] += 1
    if tally:
        op.bulk_insert(
            counts,
            [{"kind": k, "lag_days": lag, "events": n} for (k, lag), n in sorted(tally.items())],
        )


def upgrade() -> None:
    op.create_table(
        "entry_lag_counts",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("lag_days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "lag_days", name=op.f("pk_entry_lag_counts")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _backfill_postgresql(bind)
    else:
        _backfill_in_python(bind)
    op.create_index("ix_limits_status_statutory_limit", "limits", ["status", "statutory", "limit"])
    op.create_index(
        "ix_advice_requests_team_outcome_due_on",
        "advice_requests",
        ["team", "outcome", "due_on"],
    )
    # (kind, occurred_on, case_ref) serves every query ix_events_kind served, and more.
    op.create_index(
        "ix_events_kind_occurred_on_case_ref", "events", ["kind", "occurred_on", "case_ref"]
    )
    op.drop_index("ix_events_kind", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_kind", "events", ["kind"])
    op.drop_index("ix_events_kind_occurred_on_case_ref", table_name="events")
    op.drop_index("ix_advice_requests_team_outcome_due_on", table_name="advice_requests")
    op.drop_index("ix_limits_status_statutory_limit", table_name="limits")
    op.drop_table("entry_lag_counts")
