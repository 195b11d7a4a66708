"""An index on ``lower(children.case_ref)``: every start checks that no case exists under
the same reference in other letter case, and every path with small letters in its
reference looks the stored one up; without it both scan every child (issue 14).

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_children_case_ref_lower", "children", [sa.text("lower(case_ref)")])


def downgrade() -> None:
    op.drop_index("ix_children_case_ref_lower", table_name="children")
