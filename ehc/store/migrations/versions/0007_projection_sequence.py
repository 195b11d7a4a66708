"""The store is the read model: each case records which of its workflow's changes it holds.

``cases.projected_seq`` is the sequence number of the last audit event in the projected
view (``cases.updated_at`` already says when the projection last changed the case);
``limits.position`` keeps the order in which the case view lists its limits. Both are
empty for rows projected before this revision until the next projection (or
``ehc store rebuild``) fills them.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("projected_seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("limits") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("limits") as batch:
        batch.drop_column("position")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("projected_seq")
