"""Digests: notices queued for one recipient on one day share a batch.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("batch", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("case_ref", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.create_index(batch.f("ix_notifications_batch"), ["batch"])


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index(batch.f("ix_notifications_batch"))
        batch.drop_column("due_on")
        batch.drop_column("case_ref")
        batch.drop_column("batch")
