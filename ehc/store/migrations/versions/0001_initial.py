"""The case store's first schema: cases, children, limits, advice requests, exceptions,
events (append-only audit trail), notes and users.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_ref"], ["cases.case_ref"], name=op.f(f"fk_{table}_case_ref_cases")
    )


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("anchor", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("rule_version", sa.String(length=40), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_stage"), "cases", ["stage"], unique=False)

    op.create_table(
        "children",
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", name=op.f("pk_children")),
    )

    op.create_table(
        "notes",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_case_ref"), "notes", ["case_ref"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
    )

    op.create_table(
        "advice_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("regulation", sa.Text(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("received_by_adviser_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("advice_received_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        _case_fk("advice_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advice_requests")),
    )
    op.create_index(
        op.f("ix_advice_requests_case_ref"), "advice_requests", ["case_ref"], unique=False
    )

    op.create_table(
        "events",
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _case_fk("events"),
        sa.PrimaryKeyConstraint("case_ref", "seq", name=op.f("pk_events")),
    )

    op.create_table(
        "exceptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("limit", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("closure", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        _case_fk("exceptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptions")),
    )
    op.create_index(op.f("ix_exceptions_case_ref"), "exceptions", ["case_ref"], unique=False)

    op.create_table(
        "limits",
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("limit_key", sa.String(length=120), nullable=False),
        sa.Column("limit", sa.String(length=40), nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=True),
        sa.Column("regulation", sa.Text(), nullable=False),
        sa.Column("statutory", sa.Boolean(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("blocked_by", sa.Text(), nullable=True),
        sa.Column("exception_ids", sa.JSON(), nullable=False),
        _case_fk("limits"),
        sa.PrimaryKeyConstraint("case_ref", "limit_key", name=op.f("pk_limits")),
    )
    op.create_index("ix_limits_status_due_on", "limits", ["status", "due_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_limits_status_due_on", table_name="limits")
    op.drop_table("limits")
    op.drop_index(op.f("ix_exceptions_case_ref"), table_name="exceptions")
    op.drop_table("exceptions")
    op.drop_table("events")
    op.drop_index(op.f("ix_advice_requests_case_ref"), table_name="advice_requests")
    op.drop_table("advice_requests")
    op.drop_table("users")
    op.drop_index(op.f("ix_notes_case_ref"), table_name="notes")
    op.drop_table("notes")
    op.drop_table("children")
    op.drop_index(op.f("ix_cases_stage"), table_name="cases")
    op.drop_table("cases")
