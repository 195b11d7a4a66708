"""The team portal: one-time sign-in links (hashed), team browser sessions, and the log of
every view of a child's record through the portal.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_sign_in_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_team_sign_in_links")),
    )
    op.create_index(op.f("ix_team_sign_in_links_team"), "team_sign_in_links", ["team"])
    op.create_table(
        "team_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_team_sessions")),
    )
    op.create_index(op.f("ix_team_sessions_team"), "team_sessions", ["team"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewer", sa.String(length=200), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("advice_id", sa.String(length=64), nullable=True),
        sa.Column("what", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_case_ref"), "access_log", ["case_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_access_log_case_ref"), table_name="access_log")
    op.drop_table("access_log")
    op.drop_index(op.f("ix_team_sessions_team"), table_name="team_sessions")
    op.drop_table("team_sessions")
    op.drop_index(op.f("ix_team_sign_in_links_team"), table_name="team_sign_in_links")
    op.drop_table("team_sign_in_links")
