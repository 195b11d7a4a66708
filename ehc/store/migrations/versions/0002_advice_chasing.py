"""Advice chasing: the team directory, the notification ledger, team submissions, and the
outcome of each advice request.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("advice_requests") as batch:
        batch.add_column(
            sa.Column("outcome", sa.String(length=40), nullable=False, server_default="outstanding")
        )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_index(op.f("ix_teams_agency"), "teams", ["agency"])
    op.create_table(
        "notifications",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_advice_id"), "notifications", ["advice_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index(op.f("ix_submissions_advice_id"), "submissions", ["advice_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_submissions_advice_id"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_index(op.f("ix_notifications_advice_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_teams_agency"), table_name="teams")
    op.drop_table("teams")
    with op.batch_alter_table("advice_requests") as batch:
        batch.drop_column("outcome")
