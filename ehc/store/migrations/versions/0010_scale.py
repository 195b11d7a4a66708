"""Scale: starts that are recorded before their workflow, and the read side's indexes.

``pending_starts`` holds a case whose store rows were written before its workflow was
started (the API answers without waiting for the worker); the workflow's first projection
removes the row and a sweep starts any workflow that a crash left unstarted.

The indexes serve the worklist ordered by ``next_due_on`` (NULLs last, ``case_ref`` as the
tie-break of the cursor), the metrics on met limits, advice by receipt date and agency, and
the event counts by kind. Measured in docs/performance.md.

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_starts",
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("start", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", name=op.f("pk_pending_starts")),
    )
    op.create_index(
        op.f("ix_pending_starts_created_at"), "pending_starts", ["created_at"], unique=False
    )
    op.create_index("ix_cases_next_due_on_case_ref", "cases", ["next_due_on", "case_ref"])
    op.create_index("ix_limits_limit_met_on", "limits", ["limit", "met_on"])
    op.create_index(
        "ix_advice_requests_advice_received_on_agency",
        "advice_requests",
        ["advice_received_on", "agency"],
    )
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
    op.drop_index("ix_advice_requests_advice_received_on_agency", table_name="advice_requests")
    op.drop_index("ix_limits_limit_met_on", table_name="limits")
    op.drop_index("ix_cases_next_due_on_case_ref", table_name="cases")
    op.drop_index(op.f("ix_pending_starts_created_at"), table_name="pending_starts")
    op.drop_table("pending_starts")
