"""Notes keyed by case and command; Idempotency-Key records (key and body hash).

A note's key was its command's update id alone, so the same reason posted to two cases
(or two withdrawals retried with one Idempotency-Key) kept only the first case's text.
Notes are now keyed by (case_ref, key). ``idempotency_keys`` remembers which body each
Idempotency-Key was first sent with, per case and command (the request's path). A team's
submission carries the key of its command (advice request and body), so a retried
submission is stored once.

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notes", recreate="always") as batch:
        batch.drop_constraint("pk_notes", type_="primary")
        batch.create_primary_key("pk_notes", ["case_ref", "key"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("key", sa.String(length=200), nullable=True))
        batch.create_index("ux_submissions_advice_id_key", ["advice_id", "key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ux_submissions_advice_id_key")
        batch.drop_column("key")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("notes", recreate="always") as batch:
        batch.drop_constraint("pk_notes", type_="primary")
        batch.create_primary_key("pk_notes", ["key"])
