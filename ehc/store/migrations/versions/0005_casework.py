"""Casework: the worklist's urgency and assignee on each case; user expiry and revocation.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN_LIMITS = (
    "FROM limits WHERE limits.case_ref = cases.case_ref AND limits.statutory = true"
    " AND limits.\"limit\" <> 'draft_representations'"
    " AND (limits.status = 'pending' OR (limits.status = 'breached' AND limits.met_on IS NULL))"
)
_CLOSED = "('plan_issued', 'closed_not_assessed', 'closed_no_plan', 'withdrawn')"


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("urgent_on", sa.Date(), nullable=False, server_default="9999-12-31")
        )
        batch.add_column(sa.Column("urgent_limit", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_index("ix_cases_urgent_on_case_ref", ["urgent_on", "case_ref"])
        batch.create_index("ix_cases_received_on_case_ref", ["received_on", "case_ref"])
        batch.create_index(batch.f("ix_cases_assignee_id"), ["assignee_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    backfill = (  # constant text only
        f"UPDATE cases SET urgent_limit = (SELECT limit_key {_OPEN_LIMITS}"  # noqa: S608
        " ORDER BY due_on, limit_key LIMIT 1),"
        f" urgent_on = COALESCE((SELECT min(due_on) {_OPEN_LIMITS}), '9999-12-31')"
        f" WHERE stage NOT IN {_CLOSED}"
    )
    op.execute(backfill)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(batch.f("ix_cases_assignee_id"))
        batch.drop_index("ix_cases_received_on_case_ref")
        batch.drop_index("ix_cases_urgent_on_case_ref")
        batch.drop_column("assignee_id")
        batch.drop_column("urgent_limit")
        batch.drop_column("urgent_on")
