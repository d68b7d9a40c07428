"""Fax: a line's fax number; a fax's remote station id, speed and outcome (SPEC S11).

Revision ID: 0004_fax
Revises: 0003_confirm
Create Date: 2026-12-05 03:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_fax"
down_revision: str | None = "0003_confirm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("line", sa.Column("fax_number", sa.String(length=10), nullable=True))
    op.create_index("uq_line_fax_number", "line", ["fax_number"], unique=True)
    op.add_column("message", sa.Column("fax_remote_ident", sa.String(length=20), nullable=True))
    op.add_column(
        "message", sa.Column("fax_bit_rate", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("message", sa.Column("fax_status", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("message", "fax_status")
    op.drop_column("message", "fax_bit_rate")
    op.drop_column("message", "fax_remote_ident")
    op.drop_index("uq_line_fax_number", table_name="line")
    op.drop_column("line", "fax_number")
